"""The stack's settings (``stack.env``) and where a running stack keeps its files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from stackctl.bootstrap import ROOT, StackError

SETTINGS_FILE = ROOT / "stack.env"
COMPOSE_FILE = ROOT / "docker-compose.yml"


def load_settings() -> dict[str, str]:
    """Read ``stack.env``; a variable already set in the environment wins."""
    settings: dict[str, str] = {}
    for line in SETTINGS_FILE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise StackError(f"{SETTINGS_FILE}: not KEY=VALUE: {line!r}")
        settings[key.strip()] = os.environ.get(key.strip(), value.strip())
    return settings


@dataclass(frozen=True)
class Paths:
    """Everything a running stack writes lives under one state folder."""

    state: Path

    @classmethod
    def from_env(cls) -> Paths:
        return cls(Path(os.environ.get("STACK_STATE_DIR", ROOT / ".state")).resolve())

    @property
    def run(self) -> Path:
        return self.state / "run"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def mode_file(self) -> Path:
        return self.run / "mode"

    def pid_file(self, service: str) -> Path:
        return self.run / f"{service}.pid"

    def log_file(self, service: str) -> Path:
        return self.logs / f"{service}.log"
