import NIOCore

/// The 7- or 9-byte ADTS header that frames AAC in MPEG-TS (ISO 14496-3 §1.A.2).
public struct ADTSHeader: Sendable, Equatable {
    /// Audio object type (profile + 1; 2 = AAC LC).
    public var objectType: Int
    /// Index into the standard sampling-frequency table.
    public var samplingFrequencyIndex: Int
    /// Channel configuration.
    public var channelConfiguration: Int
    /// The whole frame's length, header included.
    public var frameLength: Int
    /// Whether a 2-byte CRC follows the 7 fixed bytes.
    public var hasCRC: Bool

    /// Header length in bytes (7, or 9 with CRC).
    public var headerLength: Int { hasCRC ? 9 : 7 }

    public init(objectType: Int, samplingFrequencyIndex: Int, channelConfiguration: Int, frameLength: Int, hasCRC: Bool = false) {
        self.objectType = objectType
        self.samplingFrequencyIndex = samplingFrequencyIndex
        self.channelConfiguration = channelConfiguration
        self.frameLength = frameLength
        self.hasCRC = hasCRC
    }

    /// Parses the header at the buffer's reader index without consuming it.
    /// - Throws: ``MediaFormatError`` naming the bad field.
    public init(parsing buffer: ByteBuffer) throws {
        guard buffer.readableBytes >= 7, let b = buffer.getBytes(at: buffer.readerIndex, length: 7) else {
            throw MediaFormatError.truncated(what: "ADTS header")
        }
        guard b[0] == 0xFF, b[1] & 0xF6 == 0xF0 else {
            throw MediaFormatError.invalidField(what: "ADTS syncword", value: Int(b[0]) << 8 | Int(b[1]))
        }
        hasCRC = b[1] & 0x01 == 0
        objectType = Int(b[2] >> 6) + 1
        samplingFrequencyIndex = Int((b[2] >> 2) & 0x0F)
        guard samplingFrequencyIndex < AACConfig.sampleRates.count else {
            throw MediaFormatError.invalidField(what: "ADTS sampling frequency index", value: samplingFrequencyIndex)
        }
        channelConfiguration = Int(b[2] & 0x01) << 2 | Int(b[3] >> 6)
        frameLength = Int(b[3] & 0x03) << 11 | Int(b[4]) << 3 | Int(b[5] >> 5)
        guard frameLength >= (hasCRC ? 9 : 7) else {
            throw MediaFormatError.invalidField(what: "ADTS frame length", value: frameLength)
        }
    }

    /// Writes a 7-byte header (no CRC) for a raw AAC payload of `payloadLength` bytes.
    public static func write(
        objectType: Int, samplingFrequencyIndex: Int, channelConfiguration: Int, payloadLength: Int, into out: inout ByteBuffer
    ) {
        let length = payloadLength + 7
        out.writeInteger(UInt8(0xFF))
        out.writeInteger(UInt8(0xF1))
        out.writeInteger(UInt8(((objectType - 1) & 0x03) << 6 | (samplingFrequencyIndex & 0x0F) << 2 | (channelConfiguration >> 2) & 0x01))
        out.writeInteger(UInt8((channelConfiguration & 0x03) << 6 | (length >> 11) & 0x03))
        out.writeInteger(UInt8((length >> 3) & 0xFF))
        out.writeInteger(UInt8((length & 0x07) << 5 | 0x1F))
        out.writeInteger(UInt8(0xFC))
    }

    /// The AAC configuration this header declares.
    public var config: AACConfig {
        AACConfig(objectType: objectType, samplingFrequencyIndex: samplingFrequencyIndex, channels: channelConfiguration)
    }
}

extension AACConfig {
    /// The standard AAC sampling-frequency table, indexed by `samplingFrequencyIndex`.
    public static let sampleRates: [Int] = [
        96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
    ]

    /// Builds the 2-byte AudioSpecificConfig for a plain (non-extended) object type.
    public init(objectType: Int, samplingFrequencyIndex: Int, channels: Int) {
        let asc: [UInt8] = [
            UInt8((objectType & 0x1F) << 3 | (samplingFrequencyIndex >> 1) & 0x07),
            UInt8((samplingFrequencyIndex & 0x01) << 7 | (channels & 0x0F) << 3),
        ]
        self.init(
            audioSpecificConfig: asc, objectType: objectType,
            sampleRate: AACConfig.sampleRates[min(samplingFrequencyIndex, AACConfig.sampleRates.count - 1)],
            channels: channels)
    }

    /// The index of ``sampleRate`` in ``sampleRates`` (falls back to 48 kHz's index).
    public var samplingFrequencyIndex: Int {
        AACConfig.sampleRates.firstIndex(of: sampleRate) ?? 3
    }

    /// The duration of one AAC frame (1024 samples) on the 90 kHz timeline.
    public var frameDuration90k: Int64 {
        Int64(1024) * mediaTimescale / Int64(max(sampleRate, 1))
    }
}
