import EstuaryMedia
import EstuaryTestSupport
import Testing

@Suite struct AACConfigTests {
    @Test func parsesFFmpegAudioSpecificConfigs() throws {
        let mono = try AACConfig(audioSpecificConfig: Fixtures.aac44100Mono)
        #expect(mono == AACConfig(audioSpecificConfig: Fixtures.aac44100Mono, objectType: 2, sampleRate: 44100, channels: 1))
        #expect(mono.samplingFrequencyIndex == 4)

        let stereo = try AACConfig(audioSpecificConfig: Fixtures.aac48000Stereo)
        #expect(stereo == AACConfig(audioSpecificConfig: Fixtures.aac48000Stereo, objectType: 2, sampleRate: 48000, channels: 2))
        #expect(stereo.frameDuration90k == 1920)
    }

    @Test func parsesWhatTheTwoByteInitializerBuilds() throws {
        let built = AACConfig(objectType: 2, samplingFrequencyIndex: 7, channels: 6)
        #expect(try AACConfig(audioSpecificConfig: built.audioSpecificConfig) == built)
        #expect(built.sampleRate == 22050)
    }

    @Test func parsesAnExplicitFrequency() throws {
        // AAC LC, samplingFrequencyIndex 15, 37 800 Hz in 24 bits, stereo.
        let bytes: [UInt8] = [0x17, 0x80, 0x49, 0xD4, 0x10]
        let config = try AACConfig(audioSpecificConfig: bytes)
        #expect(config == AACConfig(audioSpecificConfig: bytes, objectType: 2, sampleRate: 37800, channels: 2))
    }

    @Test func parsesAnEscapedObjectType() throws {
        // Object type 31 + 6 bits (10) = 42 (USAC), 44.1 kHz, stereo.
        let config = try AACConfig(audioSpecificConfig: [0xF9, 0x48, 0x40])
        #expect(config.objectType == 42)
        #expect(config.sampleRate == 44100)
        #expect(config.channels == 2)
    }

    @Test func reportsTheCoreLayerOfExplicitHEAAC() throws {
        // HE-AAC: SBR (5) at a 24 kHz core, 48 kHz output, stereo, core AAC LC.
        let he = try AACConfig(audioSpecificConfig: [0x2B, 0x11, 0x88, 0x00])
        #expect(he.objectType == 2)
        #expect(he.sampleRate == 24000)
        #expect(he.channels == 2)
        #expect(he.audioSpecificConfig == [0x2B, 0x11, 0x88, 0x00])
        // HE-AAC v2: PS (29), mono core.
        let v2 = try AACConfig(audioSpecificConfig: [0xEB, 0x09, 0x88, 0x00])
        #expect(v2.objectType == 2)
        #expect(v2.sampleRate == 24000)
        #expect(v2.channels == 1)
    }

    @Test func rejectsBadConfigs() {
        #expect(throws: MediaFormatError.truncated(what: "AudioSpecificConfig audioObjectType")) {
            try AACConfig(audioSpecificConfig: [])
        }
        #expect(throws: MediaFormatError.truncated(what: "AudioSpecificConfig samplingFrequencyIndex")) {
            try AACConfig(audioSpecificConfig: [0x12])
        }
        #expect(throws: MediaFormatError.invalidField(what: "AudioSpecificConfig samplingFrequencyIndex", value: 13)) {
            try AACConfig(audioSpecificConfig: [0x16, 0x90])
        }
        #expect(throws: MediaFormatError.invalidField(what: "AudioSpecificConfig samplingFrequency", value: 0)) {
            try AACConfig(audioSpecificConfig: [0x17, 0x80, 0x00, 0x00, 0x10])
        }
        #expect(throws: MediaFormatError.invalidField(what: "AudioSpecificConfig audioObjectType", value: 0)) {
            try AACConfig(audioSpecificConfig: [0x00, 0x00])
        }
        #expect(throws: MediaFormatError.truncated(what: "AudioSpecificConfig samplingFrequency")) {
            try AACConfig(audioSpecificConfig: [0x17, 0x80, 0x49])
        }
    }
}
