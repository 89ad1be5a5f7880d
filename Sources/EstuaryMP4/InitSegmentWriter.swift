import EstuaryMedia
import NIOCore

/// Writes the initialization segment of an M4F/CMAF stream: `ftyp` + `moov` describing every
/// track with its decoder configuration (`avcC`, `hvcC`, `esds`) and `mvex`/`trex` so that
/// fragments may follow. All tracks use the 90 kHz media timescale.
///
/// The output is deterministic: the same tracks always produce the same bytes, so callers can
/// compare init segments to detect a codec change.
public enum InitSegmentWriter {
    /// The initialization segment for `tracks` (in the order given).
    public static func write(tracks: [TrackInfo], allocator: ByteBufferAllocator = .init()) -> ByteBuffer {
        var out = allocator.buffer(capacity: 1024)
        out.writeBox("ftyp") { box in
            box.writeInteger(FourCC("iso6").rawValue)
            box.writeInteger(UInt32(0))
            for brand: FourCC in ["iso6", "cmfc", "iso5", "mp41"] { box.writeInteger(brand.rawValue) }
        }
        out.writeBox("moov") { moov in
            moov.writeFullBox("mvhd", version: 0, flags: 0) { mvhd in
                mvhd.writeInteger(UInt32(0))  // creation time
                mvhd.writeInteger(UInt32(0))  // modification time
                mvhd.writeInteger(UInt32(1000))  // timescale
                mvhd.writeInteger(UInt32(0))  // duration: unknown (fragmented)
                mvhd.writeInteger(UInt32(0x0001_0000))  // rate 1.0
                mvhd.writeInteger(UInt16(0x0100))  // volume 1.0
                mvhd.writeZeros(10)
                writeUnityMatrix(&mvhd)
                mvhd.writeZeros(24)  // pre_defined
                mvhd.writeInteger(UInt32((tracks.map(\.id).max() ?? 0) + 1))
            }
            for track in tracks { writeTrack(track, into: &moov) }
            moov.writeBox("mvex") { mvex in
                for track in tracks {
                    mvex.writeFullBox("trex", version: 0, flags: 0) { trex in
                        trex.writeInteger(UInt32(track.id))
                        trex.writeInteger(UInt32(1))  // default sample description index
                        trex.writeInteger(UInt32(0))
                        trex.writeInteger(UInt32(0))
                        trex.writeInteger(UInt32(0))
                    }
                }
            }
        }
        return out
    }

    private static func writeUnityMatrix(_ out: inout ByteBuffer) {
        for value: UInt32 in [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] { out.writeInteger(value) }
    }

    private static func writeTrack(_ track: TrackInfo, into moov: inout ByteBuffer) {
        let isVideo = track.codec.isVideo
        let video: VideoInfo? =
            switch track.config {
            case .h264(let config): config.info
            case .h265(let config): config.info
            case .aac: nil
            }
        moov.writeBox("trak") { trak in
            trak.writeFullBox("tkhd", version: 0, flags: 0x3) { tkhd in
                tkhd.writeInteger(UInt32(0))
                tkhd.writeInteger(UInt32(0))
                tkhd.writeInteger(UInt32(track.id))
                tkhd.writeInteger(UInt32(0))  // reserved
                tkhd.writeInteger(UInt32(0))  // duration
                tkhd.writeZeros(8)
                tkhd.writeInteger(UInt16(0))  // layer
                tkhd.writeInteger(UInt16(isVideo ? 0 : 1))  // alternate group
                tkhd.writeInteger(UInt16(isVideo ? 0 : 0x0100))  // volume
                tkhd.writeInteger(UInt16(0))
                writeUnityMatrix(&tkhd)
                tkhd.writeInteger(UInt32((video?.width ?? 0) << 16))
                tkhd.writeInteger(UInt32((video?.height ?? 0) << 16))
            }
            trak.writeBox("mdia") { mdia in
                mdia.writeFullBox("mdhd", version: 0, flags: 0) { mdhd in
                    mdhd.writeInteger(UInt32(0))
                    mdhd.writeInteger(UInt32(0))
                    mdhd.writeInteger(UInt32(mediaTimescale))
                    mdhd.writeInteger(UInt32(0))
                    mdhd.writeInteger(UInt16(0x55C4))  // language "und"
                    mdhd.writeInteger(UInt16(0))
                }
                mdia.writeFullBox("hdlr", version: 0, flags: 0) { hdlr in
                    hdlr.writeInteger(UInt32(0))
                    let handler: FourCC = isVideo ? "vide" : "soun"
                    hdlr.writeInteger(handler.rawValue)
                    hdlr.writeZeros(12)
                    hdlr.writeString(isVideo ? "VideoHandler" : "SoundHandler")
                    hdlr.writeInteger(UInt8(0))
                }
                mdia.writeBox("minf") { minf in
                    if isVideo {
                        minf.writeFullBox("vmhd", version: 0, flags: 1) { $0.writeZeros(8) }
                    } else {
                        minf.writeFullBox("smhd", version: 0, flags: 0) { $0.writeZeros(4) }
                    }
                    minf.writeBox("dinf") { dinf in
                        dinf.writeFullBox("dref", version: 0, flags: 0) { dref in
                            dref.writeInteger(UInt32(1))
                            dref.writeFullBox("url ", version: 0, flags: 1) { _ in }
                        }
                    }
                    minf.writeBox("stbl") { stbl in
                        stbl.writeFullBox("stsd", version: 0, flags: 0) { stsd in
                            stsd.writeInteger(UInt32(1))
                            writeSampleEntry(track.config, into: &stsd)
                        }
                        for type: FourCC in ["stts", "stsc", "stco"] {
                            stbl.writeFullBox(type, version: 0, flags: 0) { $0.writeInteger(UInt32(0)) }
                        }
                        stbl.writeFullBox("stsz", version: 0, flags: 0) { stsz in
                            stsz.writeInteger(UInt32(0))
                            stsz.writeInteger(UInt32(0))
                        }
                    }
                }
            }
        }
    }

    private static func writeVisualSampleEntryHeader(_ info: VideoInfo, into entry: inout ByteBuffer) {
        entry.writeZeros(6)
        entry.writeInteger(UInt16(1))  // data reference index
        entry.writeZeros(16)
        entry.writeInteger(UInt16(clamping: info.width))
        entry.writeInteger(UInt16(clamping: info.height))
        entry.writeInteger(UInt32(0x0048_0000))
        entry.writeInteger(UInt32(0x0048_0000))
        entry.writeInteger(UInt32(0))
        entry.writeInteger(UInt16(1))  // frame count
        entry.writeZeros(32)  // compressor name
        entry.writeInteger(UInt16(0x0018))
        entry.writeInteger(Int16(-1))
    }

    private static func writeSampleEntry(_ config: CodecConfig, into stsd: inout ByteBuffer) {
        switch config {
        case .h264(let h264):
            stsd.writeBox("avc1") { entry in
                writeVisualSampleEntryHeader(h264.info, into: &entry)
                entry.writeBox("avcC") { $0.writeBytes(h264.decoderConfigurationRecord()) }
            }
        case .h265(let h265):
            stsd.writeBox("hvc1") { entry in
                writeVisualSampleEntryHeader(h265.info, into: &entry)
                entry.writeBox("hvcC") { $0.writeBytes(h265.decoderConfigurationRecord()) }
            }
        case .aac(let aac):
            stsd.writeBox("mp4a") { entry in
                entry.writeZeros(6)
                entry.writeInteger(UInt16(1))
                entry.writeZeros(8)
                entry.writeInteger(UInt16(clamping: max(aac.channels, 1)))
                entry.writeInteger(UInt16(16))
                entry.writeZeros(4)
                entry.writeInteger(UInt32(min(aac.sampleRate, 65535)) << 16)
                entry.writeFullBox("esds", version: 0, flags: 0) { esds in
                    writeESDescriptor(aac, into: &esds)
                }
            }
        }
    }

    /// ISO 14496-1 descriptors: ES_Descriptor > DecoderConfigDescriptor > DecoderSpecificInfo,
    /// then SLConfigDescriptor. Lengths use the 4-byte form so the layout never depends on size.
    private static func writeESDescriptor(_ aac: AACConfig, into out: inout ByteBuffer) {
        let asc = aac.audioSpecificConfig
        let decoderSpecific = 5 + asc.count
        let decoderConfig = 13 + decoderSpecific
        let esDescriptor = 3 + (5 + decoderConfig) + (5 + 1)
        writeDescriptorHeader(tag: 0x03, length: esDescriptor, into: &out)
        out.writeInteger(UInt16(0))  // ES_ID
        out.writeInteger(UInt8(0))  // flags
        writeDescriptorHeader(tag: 0x04, length: decoderConfig, into: &out)
        out.writeInteger(UInt8(0x40))  // MPEG-4 audio
        out.writeInteger(UInt8(0x15))  // audio stream
        out.writeZeros(3)  // buffer size
        out.writeInteger(UInt32(0))  // max bitrate
        out.writeInteger(UInt32(0))  // average bitrate
        writeDescriptorHeader(tag: 0x05, length: asc.count, into: &out)
        out.writeBytes(asc)
        writeDescriptorHeader(tag: 0x06, length: 1, into: &out)
        out.writeInteger(UInt8(0x02))
    }

    private static func writeDescriptorHeader(tag: UInt8, length: Int, into out: inout ByteBuffer) {
        out.writeInteger(tag)
        out.writeInteger(UInt8(0x80 | ((length >> 21) & 0x7F)))
        out.writeInteger(UInt8(0x80 | ((length >> 14) & 0x7F)))
        out.writeInteger(UInt8(0x80 | ((length >> 7) & 0x7F)))
        out.writeInteger(UInt8(length & 0x7F))
    }
}
