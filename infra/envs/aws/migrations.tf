# Where the objects of a deployment made before modules/system now live: the same objects at
# new addresses, so a plan moves them instead of destroying and recreating them (the table
# above all: it holds the data). The local root has none: its state lives and dies with the
# local stack.

# The three modules this root called now sit inside module "system".
moved {
  from = module.api
  to   = module.system.module.api
}

moved {
  from = module.search
  to   = module.system.module.search
}

moved {
  from = module.sync
  to   = module.system.module.sync
}

# The table left module "api" for a module of its own.
moved {
  from = module.system.module.api.aws_dynamodb_table.this
  to   = module.system.module.table.aws_dynamodb_table.this
}

# Each function, its role, role policy and log group went into module "function".
moved {
  from = module.system.module.sync.aws_lambda_function.this
  to   = module.system.module.sync.module.function.aws_lambda_function.this
}

moved {
  from = module.system.module.sync.aws_iam_role.this
  to   = module.system.module.sync.module.function.aws_iam_role.this
}

moved {
  from = module.system.module.sync.aws_iam_role_policy.this
  to   = module.system.module.sync.module.function.aws_iam_role_policy.this
}

moved {
  from = module.system.module.sync.aws_cloudwatch_log_group.this
  to   = module.system.module.sync.module.function.aws_cloudwatch_log_group.this
}

moved {
  from = module.system.module.search.aws_lambda_function.search
  to   = module.system.module.search.module.search_function.aws_lambda_function.this
}

moved {
  from = module.system.module.search.aws_iam_role.search
  to   = module.system.module.search.module.search_function.aws_iam_role.this
}

moved {
  from = module.system.module.search.aws_iam_role_policy.search
  to   = module.system.module.search.module.search_function.aws_iam_role_policy.this
}

moved {
  from = module.system.module.search.aws_cloudwatch_log_group.search
  to   = module.system.module.search.module.search_function.aws_cloudwatch_log_group.this
}
