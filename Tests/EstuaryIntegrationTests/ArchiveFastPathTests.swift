import Testing

@testable import EstuaryNode

/// What `ArchiveFastPath` reads from a request by itself, without the router.
@Suite struct ArchiveFastPathTests {
    @Test(arguments: [
        ("close", true), ("Close", true), (" CLOSE ", true), ("keep-alive, close", true), ("close,\tupgrade", true),
        ("keep-alive", false), ("closed", false), ("clos", false), ("", false), ("upgrade, x-close", false),
    ])
    func theConnectionFieldAsksToCloseOnlyWithTheCloseOption(value: String, closes: Bool) {
        #expect(ArchiveFastPath.asksToClose(value) == closes, "'\(value)'")
    }
}
