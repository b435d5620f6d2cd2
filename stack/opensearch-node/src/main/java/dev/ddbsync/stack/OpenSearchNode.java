package dev.ddbsync.stack;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Runs one real OpenSearch node in this JVM: the server jar and its bundled modules come from
 * Maven Central, so no distribution download and no Docker engine is needed.
 *
 * <pre>
 * java -Xms512m -Xmx512m -jar stack/opensearch-node/target/opensearch-node.jar \
 *     --home DIR --http-port PORT [--host 127.0.0.1] [--cluster-name NAME] [--node-name NAME]
 * </pre>
 *
 * <ul>
 *   <li>{@code --home} gets {@code data/}, {@code logs/} and {@code config/}; a default
 *       {@code config/log4j2.properties} is written there when absent. Logs go to
 *       {@code logs/<cluster-name>.log}; only warnings and errors reach stdout.</li>
 *   <li>Single node, bound to {@code --host} only (HTTP on {@code --http-port}, transport on a
 *       free port), disk-based shard allocation off.</li>
 *   <li>Start-up failure: exit status 1 and one line on stderr ({@code opensearch-node: ...});
 *       bad arguments: exit status 2. SIGTERM closes the node cleanly, then the JVM exits.</li>
 *   <li>No JVM flag is mandatory besides the heap: the system properties a distribution's
 *       launcher passes are set here unless given on the command line.</li>
 * </ul>
 */
public final class OpenSearchNode {

    /** The modules of a distribution (its {@code modules/} directory) that the project uses. */
    private static final List<Class<? extends Plugin>> MODULES = List.of(
        Netty4Plugin.class,         // HTTP and transport
        CommonAnalysisPlugin.class, // analyzers and filters such as asciifolding
        PainlessPlugin.class,       // scripts
        MapperExtrasPlugin.class,   // search_as_you_type, scaled_float, ...
        ReindexPlugin.class         // _reindex, _update_by_query, _delete_by_query
    );

    /**
     * System properties that the distribution's launcher (SystemJvmOptions) passes as -D flags.
     * They are only read when the classes concerned first load, which is after main() starts.
     * (-Dfile.encoding=UTF-8 is read at JVM start, so the README lists it as a flag instead.)
     */
    private static final Map<String, String> DISTRIBUTION_PROPERTIES = Map.of(
        // SPI loads OpenSearch's ISO calendar data; COMPAT keeps the date parsing of 2.x.
        "java.locale.providers", "SPI,COMPAT",
        // Our shutdown hook closes the node; log4j must not stop logging before it is done.
        "log4j.shutdownHookEnabled", "false",
        "log4j2.disable.jmx", "true",
        "io.netty.noUnsafe", "true",
        "io.netty.noKeySetOptimization", "true",
        "io.netty.recycler.maxCapacityPerThread", "0",
        "io.netty.allocator.numDirectArenas", "0"
    );

    /** LogConfigurator redirects System.err into the log, so keep the real one for our messages. */
    private static final PrintStream STDERR = System.err;

    private static final String USAGE = "usage: opensearch-node --home DIR --http-port PORT"
        + " [--host 127.0.0.1] [--cluster-name NAME] [--node-name NAME]";

    private OpenSearchNode() {}

    public static void main(String[] args) {
        DISTRIBUTION_PROPERTIES.forEach((key, value) -> {
            if (System.getProperty(key) == null) {
                System.setProperty(key, value);
            }
        });
        // As in OpenSearch's own main: catch log4j status errors from before logging is set up.
        LogConfigurator.registerErrorListener();
        // As the distribution does: after an Error (e.g. OutOfMemoryError) the node's state is
        // unknown, and OpenSearch rethrows such errors on a fresh thread so that they land here.
        Thread.setDefaultUncaughtExceptionHandler((thread, e) -> {
            e.printStackTrace(); // System.err, i.e. the log once logging is configured
            if (e instanceof Error) {
                STDERR.println("opensearch-node: fatal error in thread [" + thread.getName() + "], exiting: " + e);
                Runtime.getRuntime().halt(1);
            }
        });

        Map<String, String> options = parseOptions(args);
        Path home = Path.of(options.get("--home")).toAbsolutePath().normalize();
        String host = options.getOrDefault("--host", "127.0.0.1");
        int httpPort = Integer.parseInt(options.get("--http-port"));
        String clusterName = options.getOrDefault("--cluster-name", "opensearch");
        String nodeName = options.getOrDefault("--node-name", "opensearch-node");

        Node node;
        try {
            prepareHome(home);
            checkPortFree(host, httpPort);
            Settings settings = Settings.builder()
                .put("path.home", home.toString())
                .put("path.data", home.resolve("data").toString())
                .put("path.logs", home.resolve("logs").toString())
                .put("cluster.name", clusterName)
                .put("node.name", nodeName)
                .put("network.host", host)
                .put("http.port", httpPort)
                .put("transport.port", "0") // nothing joins a single node: any free port
                .put("discovery.type", "single-node")
                // A nearly full disk (common on CI) must not make every index read-only.
                .put("cluster.routing.allocation.disk.threshold_enabled", false)
                .build();
            Environment environment = new Environment(settings, home.resolve("config"));
            LogConfigurator.setNodeName(nodeName);
            LogConfigurator.configure(environment);
            // Node's constructor that takes classpath plugins is protected (it serves tests).
            node = new Node(environment, MODULES, true) {};
        } catch (Exception | LinkageError e) {
            fail(e);
            return;
        }

        // OpenSearch's threads are daemon threads: main waits here until the hook has closed the node.
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(10, TimeUnit.SECONDS);
            } catch (IOException | InterruptedException e) {
                STDERR.println("opensearch-node: error while closing: " + describe(e));
            } finally {
                closed.countDown();
            }
        }, "opensearch-node-shutdown"));

        try {
            node.start();
        } catch (Exception | LinkageError e) {
            fail(e); // System.exit runs the hook, which closes the half-started node
        }
        try {
            closed.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Reads {@code --name value} pairs; exits with status 2 and the usage on anything else. */
    private static Map<String, String> parseOptions(String[] args) {
        List<String> known = List.of("--home", "--http-port", "--host", "--cluster-name", "--node-name");
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i < args.length; i += 2) {
            if (!known.contains(args[i]) || i + 1 == args.length) {
                usageError("unexpected argument " + args[i]);
            }
            options.put(args[i], args[i + 1]);
        }
        if (!options.containsKey("--home") || !options.containsKey("--http-port")) {
            usageError("--home and --http-port are required");
        }
        String port = options.get("--http-port");
        if (!port.matches("\\d{1,5}") || Integer.parseInt(port) < 1 || Integer.parseInt(port) > 65535) {
            usageError("--http-port must be a port number (1-65535), got " + port);
        }
        return options;
    }

    /** Creates home's directories and a default log4j2.properties (LogConfigurator requires one). */
    private static void prepareHome(Path home) throws IOException {
        try {
            for (String dir : List.of("data", "logs", "config")) {
                Files.createDirectories(home.resolve(dir));
            }
            Path log4j = home.resolve("config").resolve("log4j2.properties");
            if (Files.notExists(log4j)) {
                // Kept beside this class, not at the classpath root, so that log4j does not pick it
                // up by itself before OpenSearch has set the properties it refers to.
                try (InputStream in = OpenSearchNode.class.getResourceAsStream("log4j2.properties")) {
                    Files.copy(in, log4j);
                }
            }
            // Fail here, naming the directory, rather than deep inside the node.
            for (String dir : List.of("data", "logs")) {
                if (!Files.isWritable(home.resolve(dir))) {
                    throw new IOException(home.resolve(dir) + " is not writable");
                }
            }
        } catch (IOException e) {
            // NIO exceptions often carry only a path: keep their type, which says what went wrong.
            throw new IOException("home " + home + " is not usable: " + e.getClass().getSimpleName() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Fails in a second instead of after the ~8 s the node takes to get as far as binding. The
     * node's own bind failure is still reported the same way if the port is taken in between.
     */
    private static void checkPortFree(String host, int port) throws IOException {
        try (ServerSocket socket = new ServerSocket()) {
            socket.bind(new InetSocketAddress(host, port));
        } catch (IOException e) {
            throw new IOException("Failed to bind to " + host + ":" + port + " (" + e.getMessage() + ")", e);
        }
    }

    private static void usageError(String problem) {
        STDERR.println("opensearch-node: " + problem + "; " + USAGE);
        System.exit(2);
    }

    private static void fail(Throwable e) {
        STDERR.println("opensearch-node: cannot start: " + describe(e));
        System.exit(1);
    }

    /** The outermost message plus the root cause's, e.g. "Failed to bind to ... (Address already in use)". */
    private static String describe(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = e.getMessage() != null ? e.getMessage() : e.getClass().getName();
        if (root != e && root.getMessage() != null && !message.contains(root.getMessage())) {
            message += " (" + root.getMessage() + ")";
        }
        return message.replace('\n', ' ');
    }
}
