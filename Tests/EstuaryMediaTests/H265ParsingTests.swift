import EstuaryMedia
import EstuaryTestSupport
import Testing

@Suite struct H265ParsingTests {
    struct SPSCase: Sendable, CustomTestStringConvertible {
        var name: String
        var vps: [UInt8]
        var sps: [UInt8]
        var expected: VideoInfo
        /// FFmpeg's `hvcC` bytes before numOfArrays, when the fixture has them.
        var hvcCHeader: [UInt8]?
        var testDescription: String { name }
    }

    static let spsCases: [SPSCase] = [
        SPSCase(
            name: "main 720p", vps: Fixtures.h265VPS720, sps: Fixtures.h265SPS720,
            expected: VideoInfo(width: 1280, height: 720, profile: 1, compatibility: 0, level: 93),
            hvcCHeader: Fixtures.h265HvcCHeader720),
        SPSCase(
            name: "main 1080p", vps: Fixtures.h265VPS1080, sps: Fixtures.h265SPS1080,
            expected: VideoInfo(width: 1920, height: 1080, profile: 1, compatibility: 0, level: 120),
            hvcCHeader: nil),
        SPSCase(
            name: "main 854x480 with a conformance window", vps: Fixtures.h265VPS854, sps: Fixtures.h265SPS854,
            expected: VideoInfo(width: 854, height: 480, profile: 1, compatibility: 0, level: 90),
            hvcCHeader: Fixtures.h265HvcCHeader854),
        SPSCase(
            name: "main 10 720p", vps: Fixtures.h265VPSMain10, sps: Fixtures.h265SPSMain10,
            expected: VideoInfo(width: 1280, height: 720, profile: 2, compatibility: 0, level: 93),
            hvcCHeader: Fixtures.h265HvcCHeaderMain10),
    ]

    @Test(arguments: spsCases)
    func parsesSPS(_ testCase: SPSCase) throws {
        #expect(try VideoInfo(h265SPS: testCase.sps) == testCase.expected)
    }

    @Test(arguments: spsCases)
    func hvcCRoundTripsAndMatchesFFmpegHeader(_ testCase: SPSCase) throws {
        let config = try H265Config(vps: [testCase.vps], sps: [testCase.sps], pps: [Fixtures.h265PPS])
        #expect(config.info == testCase.expected)
        let record = config.decoderConfigurationRecord()
        if let header = testCase.hvcCHeader {
            #expect(Array(record.prefix(22)) == header)
        }
        var expectedArrays: [UInt8] = [3]
        for (type, unit) in [(UInt8(32), testCase.vps), (33, testCase.sps), (34, Fixtures.h265PPS)] {
            expectedArrays += [0x80 | type, 0, 1, UInt8(unit.count >> 8), UInt8(unit.count & 0xFF)] + unit
        }
        #expect(Array(record.dropFirst(22)) == expectedArrays)
        #expect(try H265Config(decoderConfigurationRecord: record) == config)
    }

    @Test func parsesFFmpegStyleHvcCWithAnSEIArray() throws {
        // FFmpeg writes array_completeness 0 and a fourth array with libx265's SEI.
        var record = Fixtures.h265HvcCHeader720 + [4]
        let sei: [UInt8] = [0x4E, 0x01, 0x05, 0x04, 0x78, 0x32, 0x36, 0x35, 0x80]
        for (type, unit) in [(UInt8(32), Fixtures.h265VPS720), (33, Fixtures.h265SPS720), (34, Fixtures.h265PPS), (39, sei)] {
            record += [type, 0, 1, UInt8(unit.count >> 8), UInt8(unit.count & 0xFF)] + unit
        }
        let config = try H265Config(decoderConfigurationRecord: record)
        #expect(config.vps == [Fixtures.h265VPS720])
        #expect(config.sps == [Fixtures.h265SPS720])
        #expect(config.pps == [Fixtures.h265PPS])
        #expect(config.info == VideoInfo(width: 1280, height: 720, profile: 1, compatibility: 0, level: 93))
    }

    @Test func parsesSubLayersTierAndChromaFormats() throws {
        // Hand-written SPS: three sub-layers (sub-layer 0 with a profile, sub-layer 1 with a
        // level), High tier, Main 4:4:4 (profile 4) in 4:2:2, 1000x500 cropped by 2 left, 3 right
        // (SubWidthC 2 → 10 samples) and 1 top, 1 bottom (SubHeightC 1 → 2 rows).
        var w = BitWriter()
        w.bits(0x4201, 16)
        w.bits(0, 4)  // sps_video_parameter_set_id
        w.bits(2, 3)  // sps_max_sub_layers_minus1
        w.bits(0, 1)
        w.bits(0, 2)  // general_profile_space
        w.bits(1, 1)  // general_tier_flag
        w.bits(4, 5)  // general_profile_idc
        w.bits(0x0800_0000, 32)
        w.bits(0x9000_0000_0000, 48)
        w.bits(153, 8)  // general_level_idc 5.1
        w.bits(0b10, 2)  // sub-layer 0: profile present, level absent
        w.bits(0b01, 2)  // sub-layer 1: profile absent, level present
        for _ in 2..<8 { w.bits(0, 2) }
        w.bits(0x3FF_FFFF_FFFF_FFFF, 64)
        w.bits(0xFF_FFFF, 24)  // 88 bits of sub-layer 0 profile
        w.bits(0xFF, 8)  // sub-layer 1 level
        w.ue(0)  // sps_seq_parameter_set_id
        w.ue(2)  // chroma_format_idc 4:2:2
        w.ue(1000)
        w.ue(500)
        w.bits(1, 1)
        w.ue(2)
        w.ue(3)
        w.ue(1)
        w.ue(1)
        w.ue(2)
        w.ue(2)  // 10-bit
        let info = try VideoInfo(h265SPS: w.bytes)
        #expect(info == VideoInfo(width: 990, height: 498, profile: 4, compatibility: 1, level: 153))

        let config = try H265Config(vps: [Fixtures.h265VPS720], sps: [w.bytes], pps: [Fixtures.h265PPS])
        let record = config.decoderConfigurationRecord()
        #expect(record[1] == 0x24)  // space 0, tier 1, profile 4
        #expect(Array(record[2...5]) == [0x08, 0x00, 0x00, 0x00])
        #expect(Array(record[6...11]) == [0x90, 0x00, 0x00, 0x00, 0x00, 0x00])
        #expect(record[12] == 153)
        #expect(Array(record[16...18]) == [0xFE, 0xFA, 0xFA])
        #expect(record[21] == 0x1B)  // 3 temporal layers, not nested, 4-byte lengths
        #expect(try H265Config(decoderConfigurationRecord: record) == config)
    }

    @Test func rejectsWrongTypesAndBadRecords() throws {
        #expect(throws: MediaFormatError.invalidField(what: "H.265 SPS nal_unit_type", value: 32)) {
            try VideoInfo(h265SPS: Fixtures.h265VPS720)
        }
        #expect(throws: MediaFormatError.truncated(what: "H.265 SPS NAL header")) {
            try VideoInfo(h265SPS: [0x42])
        }
        #expect(throws: MediaFormatError.truncated(what: "H.265 configuration: no VPS")) {
            try H265Config(vps: [], sps: [Fixtures.h265SPS720], pps: [Fixtures.h265PPS])
        }
        #expect(throws: MediaFormatError.invalidField(what: "H.265 PPS nal_unit_type", value: 33)) {
            try H265Config(vps: [Fixtures.h265VPS720], sps: [Fixtures.h265SPS720], pps: [Fixtures.h265SPS720])
        }
        let config = try H265Config(vps: [Fixtures.h265VPS720], sps: [Fixtures.h265SPS720], pps: [Fixtures.h265PPS])
        var record = config.decoderConfigurationRecord()
        record[0] = 2
        #expect(throws: MediaFormatError.invalidField(what: "hvcC configurationVersion", value: 2)) {
            try H265Config(decoderConfigurationRecord: record)
        }
        record = config.decoderConfigurationRecord()
        record[21] = 0x0D
        #expect(throws: MediaFormatError.unsupported(what: "hvcC NAL length size 2")) {
            try H265Config(decoderConfigurationRecord: record)
        }
        record = config.decoderConfigurationRecord()
        record[22] = 2  // the PPS array is left out
        #expect(throws: MediaFormatError.truncated(what: "H.265 configuration: no PPS")) {
            try H265Config(decoderConfigurationRecord: record)
        }
    }
}
