import EstuaryConfig
import Testing

@Suite struct ConfigUnitsTests {
    @Test(arguments: [
        ("20d", 1_728_000), ("12h", 43_200), ("90m", 5_400), ("30s", 30), ("30", 30), ("0", 0), ("2w", 1_209_600),
        (" 7d ", 604_800), ("7D", 604_800), ("7 d", 604_800),
    ])
    func durations(text: String, seconds: Int) throws {
        #expect(try ConfigUnits.parseDuration(text) == seconds)
    }

    @Test(arguments: ["20x", "", "  ", "-5d", "d", "1.5h", "5dd", "+5", "12h30m", "99999999999999999999"])
    func durationRejects(text: String) {
        #expect(throws: UnitParseError.self) { try ConfigUnits.parseDuration(text) }
    }

    @Test func durationErrorNamesTheValue() {
        let error = #expect(throws: UnitParseError.self) { try ConfigUnits.parseDuration("20x") }
        #expect(error?.kind == .duration)
        #expect(error?.value == "20x")
        #expect(error?.description.contains("'20x'") == true)
        #expect(error?.description.contains("unknown unit 'x'") == true)
        let negative = #expect(throws: UnitParseError.self) { try ConfigUnits.parseDuration("-5d") }
        #expect(negative?.description == "invalid duration '-5d': must not be negative")
        let empty = #expect(throws: UnitParseError.self) { try ConfigUnits.parseDuration("") }
        #expect(empty?.description == "invalid duration '': empty value")
    }

    @Test(arguments: [
        ("500G", 536_870_912_000), ("10M", 10_485_760), ("1T", 1_099_511_627_776), ("512K", 524_288), ("123", 123),
        ("1g", 1_073_741_824), ("500GB", 536_870_912_000), ("2P", 2_251_799_813_685_248), ("0", 0),
    ])
    func byteSizes(text: String, bytes: Int) throws {
        #expect(try ConfigUnits.parseByteSize(text) == bytes)
    }

    @Test(arguments: ["20x", "", "-5G", "G", "1.5G", "10000000P", "5 G B"])
    func byteSizeRejects(text: String) {
        let error = #expect(throws: UnitParseError.self) { try ConfigUnits.parseByteSize(text) }
        #expect(error?.kind == .byteSize)
        #expect(error?.description.hasPrefix("invalid size '\(text)'") == true)
    }

    @Test(arguments: [
        ("100M", 100_000_000), ("1G", 1_000_000_000), ("512K", 512_000), ("2500", 2_500), ("100Mbit", 100_000_000),
        ("8kbps", 8_000), ("1T", 1_000_000_000_000),
    ])
    func bitRates(text: String, bits: Int) throws {
        #expect(try ConfigUnits.parseBitRate(text) == bits)
    }

    @Test(arguments: ["20x", "", "-5M", "M", "0.5M", "100MB"])
    func bitRateRejects(text: String) {
        let error = #expect(throws: UnitParseError.self) { try ConfigUnits.parseBitRate(text) }
        #expect(error?.kind == .bitRate)
        #expect(error?.value == text)
    }
}
