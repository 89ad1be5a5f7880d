extension AACConfig {
    /// Reads an AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1), as carried in an `esds` box's
    /// DecoderSpecificInfo.
    ///
    /// Guarantees: ``audioSpecificConfig`` is `bytes`, unchanged (trailing fields such as
    /// GASpecificConfig and backward-compatible SBR signalling are kept but not interpreted);
    /// ``objectType`` is the audio object type, escape codes (31 → 32 + 6 bits) resolved;
    /// ``sampleRate`` comes from the frequency table or, for index 15, the explicit 24-bit
    /// frequency; ``channels`` is `channelConfiguration` (0 means "given by a program config
    /// element"). For explicit SBR/PS signalling (object type 5 or 29), ``objectType`` and
    /// ``sampleRate`` describe the core layer (for example 2 and 24 000 for 48 kHz HE-AAC), which
    /// is what ADTS framing and the 1024-sample ``frameDuration90k`` need. Never traps.
    /// - Throws: ``MediaFormatError/truncated(what:)`` if the bytes end early;
    ///   ``MediaFormatError/invalidField(what:value:)`` for object type 0, a reserved sampling
    ///   frequency index (13, 14) or an explicit frequency of 0.
    public init(audioSpecificConfig bytes: [UInt8]) throws {
        var r = BitReader(bytes, context: "AudioSpecificConfig")
        var objectType = try Self.readObjectType(&r)
        let sampleRate = try Self.readSamplingFrequency(&r, field: "samplingFrequencyIndex")
        let channels = Int(try r.readBits(4, field: "channelConfiguration"))
        if objectType == 5 || objectType == 29 {
            // Explicit SBR (and PS): the rate read above is the core's; the SBR output rate and
            // the core object type follow.
            _ = try Self.readSamplingFrequency(&r, field: "extensionSamplingFrequencyIndex")
            objectType = try Self.readObjectType(&r)
            guard objectType != 5, objectType != 29 else {
                throw MediaFormatError.invalidField(what: "AudioSpecificConfig core audioObjectType", value: objectType)
            }
        }
        self.init(audioSpecificConfig: bytes, objectType: objectType, sampleRate: sampleRate, channels: channels)
    }

    private static func readObjectType(_ r: inout BitReader) throws -> Int {
        var objectType = Int(try r.readBits(5, field: "audioObjectType"))
        if objectType == 31 {
            objectType = 32 + Int(try r.readBits(6, field: "audioObjectTypeExt"))
        }
        guard objectType != 0 else {
            throw MediaFormatError.invalidField(what: "AudioSpecificConfig audioObjectType", value: objectType)
        }
        return objectType
    }

    private static func readSamplingFrequency(_ r: inout BitReader, field: String) throws -> Int {
        let index = Int(try r.readBits(4, field: field))
        if index == 15 {
            let frequency = Int(try r.readBits(24, field: "samplingFrequency"))
            guard frequency > 0 else {
                throw MediaFormatError.invalidField(what: "AudioSpecificConfig samplingFrequency", value: frequency)
            }
            return frequency
        }
        guard index < sampleRates.count else {
            throw MediaFormatError.invalidField(what: "AudioSpecificConfig \(field)", value: index)
        }
        return sampleRates[index]
    }
}
