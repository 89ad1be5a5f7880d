import Foundation

/// nginx as the benches run it beside the node: one process (no master, one worker), logs and temporary files
/// in its own directory under the scratch directory, and one HTTP server on a free port (the returned process's
/// `port`) with `/healthz`, so that ``NodeProcess/waitHealthy(timeout:)`` knows when it serves.
enum NginxProcess {
    /// Starts `binary` with `modules` (paths for `load_module`), `http` directives, `server` directives and
    /// `listen` parameters for the one HTTP server, and `tail` (top-level blocks such as `rtmp`).
    static func start(
        label: String, binary: String, directory: URL, modules: [String] = [], http: String = "", server: String = "",
        listen: String = "", tail: String = ""
    ) throws -> NodeProcess {
        let port = try freeTCPPort()
        let prefix = directory.appendingPathComponent(label).path
        try FileManager.default.createDirectory(atPath: prefix + "/logs", withIntermediateDirectories: true)
        let config = """
            \(modules.map { "load_module \($0);" }.joined(separator: "\n"))
            daemon off;
            master_process off;
            worker_processes 1;
            worker_rlimit_nofile 16384;
            error_log \(prefix)/logs/error.log warn;
            pid \(prefix)/nginx.pid;
            events { worker_connections 8192; }
            http {
                access_log off;
                client_body_temp_path \(prefix)/body;
                \(http)
                server {
                    listen 127.0.0.1:\(port)\(listen.isEmpty ? "" : " " + listen);
                    location = /healthz { return 200 "ok\\n"; }
                    \(server)
                }
            }
            \(tail)
            """
        let path = prefix + "/nginx.conf"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        return try NodeProcess(label: label, binary: binary, arguments: ["-p", prefix, "-c", path], directory: directory, port: port)
    }
}
