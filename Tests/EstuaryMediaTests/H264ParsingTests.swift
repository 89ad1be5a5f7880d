import EstuaryMedia
import EstuaryTestSupport
import Testing

@Suite struct H264ParsingTests {
    struct SPSCase: Sendable, CustomTestStringConvertible {
        var name: String
        var sps: [UInt8]
        var expected: VideoInfo
        var testDescription: String { name }
    }

    static let spsCases: [SPSCase] = [
        SPSCase(
            name: "constrained baseline 640x360", sps: Fixtures.h264BaselineSPS,
            expected: VideoInfo(width: 640, height: 360, profile: 66, compatibility: 0xC0, level: 30)),
        SPSCase(
            name: "main 640x360", sps: Fixtures.h264MainSPS,
            expected: VideoInfo(width: 640, height: 360, profile: 77, compatibility: 0x40, level: 30)),
        SPSCase(
            name: "high 640x360", sps: Fixtures.h264HighSPS,
            expected: VideoInfo(width: 640, height: 360, profile: 100, compatibility: 0, level: 30)),
        SPSCase(
            name: "high 1080p, cropped from 1088", sps: Fixtures.h264High1080SPS,
            expected: VideoInfo(width: 1920, height: 1080, profile: 100, compatibility: 0, level: 40)),
        SPSCase(
            name: "high interlaced 1080i", sps: Fixtures.h264InterlacedSPS,
            expected: VideoInfo(width: 1920, height: 1080, profile: 100, compatibility: 0, level: 40)),
        SPSCase(
            name: "high 4:2:2", sps: Fixtures.h264High422SPS,
            expected: VideoInfo(width: 640, height: 360, profile: 122, compatibility: 0, level: 30)),
        SPSCase(
            name: "high 10", sps: Fixtures.h264High10SPS,
            expected: VideoInfo(width: 640, height: 360, profile: 110, compatibility: 0, level: 30)),
    ]

    @Test(arguments: spsCases)
    func parsesSPS(_ testCase: SPSCase) throws {
        #expect(try VideoInfo(h264SPS: testCase.sps) == testCase.expected)
    }

    @Test func parsesHandWrittenSPSWithScalingListsAndPOCType1() throws {
        // High profile, seq_scaling_matrix_present with one explicit 4x4 list, pic_order_cnt_type 1
        // with a two-entry cycle, 4:4:4 cropping (unit 1), 176x144 cropped by 1 pixel each side.
        var w = BitWriter()
        w.bits(0x67, 8)
        w.bits(100, 8)
        w.bits(0, 8)
        w.bits(21, 8)  // level 2.1
        w.ue(0)  // seq_parameter_set_id
        w.ue(3)  // chroma_format_idc 4:4:4
        w.bits(0, 1)  // separate_colour_plane_flag
        w.ue(0)
        w.ue(0)  // bit depths
        w.bits(0, 1)  // qpprime bypass
        w.bits(1, 1)  // seq_scaling_matrix_present_flag
        for index in 0..<12 {
            w.bits(index == 0 ? 1 : 0, 1)
            if index == 0 {
                for _ in 0..<16 { w.se(-3) }
            }
        }
        w.ue(0)  // log2_max_frame_num_minus4
        w.ue(1)  // pic_order_cnt_type
        w.bits(0, 1)
        w.se(-2)
        w.se(1)
        w.ue(2)
        w.se(4)
        w.se(-4)
        w.ue(1)  // max_num_ref_frames
        w.bits(0, 1)
        w.ue(10)  // 11 MBs = 176
        w.ue(8)  // 9 map units = 144
        w.bits(1, 1)  // frame_mbs_only_flag
        w.bits(1, 1)  // direct_8x8
        w.bits(1, 1)  // frame_cropping_flag
        w.ue(1)
        w.ue(1)
        w.ue(1)
        w.ue(1)
        w.bits(0, 1)  // vui_parameters_present_flag
        w.bits(1, 1)  // rbsp_stop_one_bit
        let info = try VideoInfo(h264SPS: w.bytes)
        #expect(info == VideoInfo(width: 174, height: 142, profile: 100, compatibility: 0, level: 21))
    }

    @Test func rejectsOutOfRangeFields() {
        var w = BitWriter()
        w.bits(0x67, 8)
        w.bits(66, 8)
        w.bits(0, 8)
        w.bits(30, 8)
        w.ue(0)
        w.ue(0)  // log2_max_frame_num_minus4
        w.ue(7)  // pic_order_cnt_type
        w.bits(0xFFFF, 16)
        #expect(throws: MediaFormatError.invalidField(what: "H.264 pic_order_cnt_type", value: 7)) {
            try VideoInfo(h264SPS: w.bytes)
        }
        #expect(throws: MediaFormatError.invalidField(what: "H.264 SPS nal_unit_type", value: 8)) {
            try VideoInfo(h264SPS: Fixtures.h264MainPPS)
        }
        #expect(throws: MediaFormatError.truncated(what: "H.264 SPS NAL header")) {
            try VideoInfo(h264SPS: [])
        }
    }

    @Test func rejectsCroppingEverything() {
        var w = BitWriter()
        w.bits(0x67, 8)
        w.bits(66, 8)
        w.bits(0, 8)
        w.bits(30, 8)
        w.ue(0)
        w.ue(0)
        w.ue(2)  // pic_order_cnt_type 2
        w.ue(1)
        w.bits(0, 1)
        w.ue(0)  // 16 wide
        w.ue(0)  // 16 high
        w.bits(1, 1)
        w.bits(1, 1)
        w.bits(1, 1)  // cropping
        w.ue(4)
        w.ue(4)  // 2 × (4 + 4) = 16: nothing left
        w.ue(0)
        w.ue(0)
        #expect(throws: MediaFormatError.invalidField(what: "H.264 frame_crop_left/right_offset", value: 8)) {
            try VideoInfo(h264SPS: w.bytes)
        }
    }

    @Test func configRequiresParameterSetsOfTheRightType() throws {
        #expect(throws: MediaFormatError.self) { try H264Config(sps: [], pps: [Fixtures.h264MainPPS]) }
        #expect(throws: MediaFormatError.self) { try H264Config(sps: [Fixtures.h264MainSPS], pps: []) }
        #expect(throws: MediaFormatError.invalidField(what: "H.264 PPS nal_unit_type", value: 7)) {
            try H264Config(sps: [Fixtures.h264MainSPS], pps: [Fixtures.h264MainSPS])
        }
        let config = try H264Config(sps: [Fixtures.h264MainSPS], pps: [Fixtures.h264MainPPS])
        #expect(config.info == (try VideoInfo(h264SPS: Fixtures.h264MainSPS)))
        #expect(config.sps == [Fixtures.h264MainSPS])
        #expect(config.pps == [Fixtures.h264MainPPS])
    }

    struct AvcCCase: Sendable, CustomTestStringConvertible {
        var name: String
        var sps: [UInt8]
        var pps: [UInt8]
        var avcC: [UInt8]
        var testDescription: String { name }
    }

    static let avcCCases: [AvcCCase] = [
        AvcCCase(name: "baseline", sps: Fixtures.h264BaselineSPS, pps: Fixtures.h264BaselinePPS, avcC: Fixtures.h264BaselineAvcC),
        AvcCCase(name: "main", sps: Fixtures.h264MainSPS, pps: Fixtures.h264MainPPS, avcC: Fixtures.h264MainAvcC),
        AvcCCase(name: "high", sps: Fixtures.h264HighSPS, pps: Fixtures.h264HighPPS, avcC: Fixtures.h264HighAvcC),
        AvcCCase(name: "high 1080p", sps: Fixtures.h264High1080SPS, pps: Fixtures.h264High1080PPS, avcC: Fixtures.h264High1080AvcC),
        AvcCCase(name: "high 4:2:2", sps: Fixtures.h264High422SPS, pps: Fixtures.h264High422PPS, avcC: Fixtures.h264High422AvcC),
        AvcCCase(name: "high 10", sps: Fixtures.h264High10SPS, pps: Fixtures.h264High10PPS, avcC: Fixtures.h264High10AvcC),
    ]

    @Test(arguments: avcCCases)
    func avcCMatchesFFmpegAndRoundTrips(_ testCase: AvcCCase) throws {
        let config = try H264Config(sps: [testCase.sps], pps: [testCase.pps])
        let record = config.decoderConfigurationRecord()
        #expect(record == testCase.avcC)
        #expect(try H264Config(decoderConfigurationRecord: record) == config)
        #expect(try H264Config(decoderConfigurationRecord: testCase.avcC) == config)
    }

    @Test func avcCRoundTripsSeveralParameterSets() throws {
        let config = try H264Config(
            sps: [Fixtures.h264HighSPS, Fixtures.h264High1080SPS], pps: [Fixtures.h264HighPPS, Fixtures.h264MainPPS])
        let record = config.decoderConfigurationRecord()
        #expect(record[5] == 0xE2)
        let parsed = try H264Config(decoderConfigurationRecord: record)
        #expect(parsed == config)
        #expect(parsed.info.width == 640)
    }

    @Test func avcCRejectsBadRecords() {
        var record = Fixtures.h264MainAvcC
        record[0] = 2
        #expect(throws: MediaFormatError.invalidField(what: "avcC configurationVersion", value: 2)) {
            try H264Config(decoderConfigurationRecord: record)
        }
        record = Fixtures.h264MainAvcC
        record[4] = 0xFD
        #expect(throws: MediaFormatError.unsupported(what: "avcC NAL length size 2")) {
            try H264Config(decoderConfigurationRecord: record)
        }
        record = Fixtures.h264MainAvcC
        record[7] = 0xFF  // SPS length past the end
        #expect(throws: MediaFormatError.truncated(what: "avcC sequenceParameterSetNALUnit")) {
            try H264Config(decoderConfigurationRecord: record)
        }
        record = Fixtures.h264MainAvcC
        record[5] = 0xE0  // no SPS
        #expect(throws: MediaFormatError.self) { try H264Config(decoderConfigurationRecord: record) }
    }
}
