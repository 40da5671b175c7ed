package launcher;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.PluginsLoader;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

/**
 * Starts one Elasticsearch 8 node in this JVM from an ES_HOME assembled out of Maven Central jars.
 * The distribution's CLI and bootstrap (which need the packaged tarball) are skipped: the node is built
 * from the server's public Node constructor and loads the modules found under home/modules.
 * Usage: java --module-path home/lib --add-modules=ALL-MODULE-PATH -cp home/launcher launcher.EmbeddedNode
 *        home dataDir httpPort transportPort
 */
public final class EmbeddedNode {
  public static void main(String[] args) {
    PrintStream err = System.err;
    try {
      run(args);
    } catch (Throwable t) {
      t.printStackTrace(err);
      err.flush();
      Runtime.getRuntime().halt(3);
    }
  }

  private static void run(String[] args) throws Exception {
    // Elasticsearch's own logging facade must exist before any server class logs (settings parsing does).
    LogConfigurator.configureESLogging();
    Path home = Path.of(args[0]).toAbsolutePath();
    Path data = Path.of(args[1]).toAbsolutePath();
    Settings settings = Settings.builder()
        .put("path.home", home.toString())
        .put("path.data", data.resolve("data").toString())
        .put("path.logs", data.resolve("logs").toString())
        .put("http.port", args[2])
        .put("transport.port", args[3])
        .put("network.host", "127.0.0.1")
        .put("discovery.type", "single-node")
        .put("node.name", "erasure-dev")
        .put("cluster.name", "erasure-dev")
        .put("cluster.routing.allocation.disk.threshold_enabled", false)
        .build();
    Environment env = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), home.resolve("config"), () -> "erasure-dev");
    LogConfigurator.setNodeName("erasure-dev");
    LogConfigurator.configure(env, false);
    PluginsLoader plugins = PluginsLoader.createPluginsLoader(PluginsLoader.loadModulesBundles(env.modulesDir()), Set.of(), Map.of());
    Node node = new Node(env, plugins);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        node.close();
      } catch (Exception ignored) {
        // the JVM is exiting either way
      }
    }));
    node.start();
    System.out.println("elasticsearch node started");
    System.out.flush();
    new CountDownLatch(1).await();
  }
}
