import Testing

@testable import EstuarySidecar

/// The connection check that keeps a late sidecar's streams on its node: real sockets on loopback.
@Suite struct NodeReachabilityTests {
    @Test func aListeningNodeAcceptsAndAClosedPortDoesNot() async throws {
        let listening = try ListeningSocket(listen: true)
        defer { listening.close() }
        let closed = try ListeningSocket(listen: false)
        closed.close()
        // A generous timeout: a listening port is accepted by the kernel at once, but the test process may be busy.
        let check = NodeReachability(timeout: .seconds(5))
        #expect(await check.accepts("127.0.0.1:\(listening.port)"))
        #expect(await check.accepts("http://127.0.0.1:\(listening.port)/streams"))
        #expect(await !check.accepts("127.0.0.1:\(closed.port)"))
        let accepting = await check.accepting(["up": "127.0.0.1:\(listening.port)", "down": "127.0.0.1:\(closed.port)"])
        #expect(accepting == ["up"])
    }

    @Test func addressesAreReadWithOrWithoutSchemeAndBrackets() {
        #expect(NodeReachability.hostAndPort("10.0.0.1:8080").map { "\($0.0) \($0.1)" } == "10.0.0.1 8080")
        #expect(NodeReachability.hostAndPort("m4f://ingest-0.svc:80/cam").map { "\($0.0) \($0.1)" } == "ingest-0.svc 80")
        #expect(NodeReachability.hostAndPort("[::1]:9000").map { "\($0.0) \($0.1)" } == "::1 9000")
        for bad in ["", "host", "host:", ":80", "host:0", "host:70000", "[::1]", "[::1]x"] {
            #expect(NodeReachability.hostAndPort(bad) == nil, "\(bad)")
        }
    }
}
