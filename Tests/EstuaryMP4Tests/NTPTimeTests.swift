import EstuaryMP4
import EstuaryTestSupport
import Testing

@Suite struct NTPTimeTests {
    @Test func theUnixEpochIsSeventyYearsIntoTheNTPEra() {
        #expect(NTPTime.unixEpochOffset == 2_208_988_800)
        #expect(NTPTime.ntp(fromUnixMicros: 0) == 2_208_988_800 << 32)
        #expect(NTPTime.unixMicros(fromNTP: 2_208_988_800 << 32) == 0)
    }

    @Test func timesFrom2036OnAreInTheNextNTPEra() {
        // 2036-02-07T06:28:16Z: the 32-bit NTP seconds wrap to 0 (RFC 4330 section 3: a clear
        // top bit means era 1, 2036-2104).
        let wrap: Int64 = ((1 << 32) - 2_208_988_800) * 1_000_000
        #expect(NTPTime.ntp(fromUnixMicros: wrap) == 0)
        #expect(NTPTime.unixMicros(fromNTP: 0) == wrap)
        #expect(NTPTime.unixMicros(fromNTP: NTPTime.ntp(fromUnixMicros: wrap - 1)) == wrap - 1)
        #expect(NTPTime.unixMicros(fromNTP: NTPTime.ntp(fromUnixMicros: wrap + 1)) == wrap + 1)
        // The last second of era 0 whose top bit is set, and the first that is read as era 1.
        #expect(NTPTime.unixMicros(fromNTP: 0x8000_0000 << 32) == (0x8000_0000 - 2_208_988_800) * 1_000_000)
        #expect(NTPTime.unixMicros(fromNTP: 0x7FFF_FFFF << 32) == (0x1_7FFF_FFFF - 2_208_988_800) * 1_000_000)
    }

    @Test func fractionsAreBinary() {
        // Half a second is 2^31 in the fraction; a quarter 2^30.
        #expect(NTPTime.ntp(fromUnixMicros: 1_500_000) == (UInt64(2_208_988_801) << 32) | 0x8000_0000)
        #expect(NTPTime.ntp(fromUnixMicros: 1_250_000) == (UInt64(2_208_988_801) << 32) | 0x4000_0000)
        #expect(NTPTime.unixMicros(fromNTP: (UInt64(2_208_988_801) << 32) | 0x8000_0000) == 1_500_000)
        // 1 µs is 4 294.967 296 fraction units: written rounded down.
        #expect(NTPTime.ntp(fromUnixMicros: 1) == (UInt64(2_208_988_800) << 32) | 4_294)
    }

    @Test func readingRoundsToTheNearestMicrosecond() {
        let second = UInt64(2_208_988_801) << 32
        // 4 294 units is 0.999 999 7 µs; 2 147 units 0.4999 µs, 2 148 units 0.5001 µs.
        #expect(NTPTime.unixMicros(fromNTP: second | 4_294) == 1_000_001)
        #expect(NTPTime.unixMicros(fromNTP: second | 2_147) == 1_000_000)
        #expect(NTPTime.unixMicros(fromNTP: second | 2_148) == 1_000_001)
        // The largest fraction is 0.999 999 999 8 s: it rounds into the next second.
        #expect(NTPTime.unixMicros(fromNTP: second | 0xFFFF_FFFF) == 2_000_000)
    }

    @Test func microsecondsRoundTripExactly() {
        var generator = SeededGenerator(seed: 5)
        var values: [Int64] = [0, 1, 999_999, 1_000_000, 1_700_000_000_123_456, 1_700_000_000_999_999, 4_000_000_000_000_000]
        for _ in 0..<10_000 { values.append(Int64.random(in: 0...4_000_000_000_000_000, using: &generator)) }
        let mismatches = values.filter { NTPTime.unixMicros(fromNTP: NTPTime.ntp(fromUnixMicros: $0)) != $0 }
        #expect(mismatches == [])
    }

    @Test func ntpTimestampsIncreaseWithTime() {
        var generator = SeededGenerator(seed: 6)
        for _ in 0..<1_000 {
            let micros = Int64.random(in: 0...2_000_000_000_000_000, using: &generator)
            #expect(NTPTime.ntp(fromUnixMicros: micros) < NTPTime.ntp(fromUnixMicros: micros + 1))
        }
    }
}
