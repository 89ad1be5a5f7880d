/// The `client_limits` block: what one HTTP client may cost a node or sidecar.
///
/// ```yaml
/// client_limits: {connections: 10000, connections_per_ip: 200, request_timeout: 10s, header_bytes: 16384}
/// ```
/// Guarantees: every bound is positive.
public struct ClientLimits: Sendable, Equatable {
    /// Open connections across all clients. Default 10,000.
    public var connections: Int
    /// Open connections from one IP address. Default 200.
    public var connectionsPerIP: Int
    /// Seconds a client has to send a whole request head (on a new connection, or after its last response):
    /// the bound on slow-request (slowloris) clients. Default 10.
    public var requestTimeout: Int
    /// Bytes in one header field, and in all of a request's header fields together. Default 16,384.
    public var headerBytes: Int
    /// Seconds a connection may stay silent with no response in progress. Default 60.
    public var idleTimeout: Int

    public init(
        connections: Int = 10_000, connectionsPerIP: Int = 200, requestTimeout: Int = 10, headerBytes: Int = 16_384,
        idleTimeout: Int = 60
    ) {
        self.connections = connections
        self.connectionsPerIP = connectionsPerIP
        self.requestTimeout = requestTimeout
        self.headerBytes = headerBytes
        self.idleTimeout = idleTimeout
    }

    static func read(from reader: inout ObjectReader) throws(FieldError) -> ClientLimits {
        func positive(_ value: Int?, _ key: String, _ reader: ObjectReader, _ fallback: Int) throws(FieldError) -> Int {
            guard let value else { return fallback }
            guard value > 0 else { throw FieldError(field: reader.fieldPath(key), reason: "must be positive, got \(value)") }
            return value
        }
        let defaults = ClientLimits()
        return ClientLimits(
            connections: try positive(try reader.int("connections"), "connections", reader, defaults.connections),
            connectionsPerIP: try positive(
                try reader.int("connections_per_ip"), "connections_per_ip", reader, defaults.connectionsPerIP),
            requestTimeout: try positive(
                try reader.duration("request_timeout"), "request_timeout", reader, defaults.requestTimeout),
            headerBytes: try positive(try reader.byteSize("header_bytes"), "header_bytes", reader, defaults.headerBytes),
            idleTimeout: try positive(try reader.duration("idle_timeout"), "idle_timeout", reader, defaults.idleTimeout)
        )
    }
}
