import EstuaryMedia
import NIOCore

/// A track as an initialization segment declares it: its configuration, its timescale and
/// the NAL length size its samples use.
struct ParsedTrack: Sendable {
    var info: TrackInfo
    var timescale: UInt32
    var nalLengthSize: Int
    var defaultSampleDuration: UInt32 = 0
    var defaultSampleSize: UInt32 = 0
    var defaultSampleFlags: UInt32 = 0
}

/// Parses a `moov` body into tracks (H.264, H.265, AAC; other tracks are skipped).
enum InitSegmentParser {
    static func parse(moov: ByteBuffer) throws(M4FError) -> [ParsedTrack] {
        var tracks: [ParsedTrack] = []
        var cursor = BoxCursor(moov)
        var trex: [Int: (UInt32, UInt32, UInt32)] = [:]
        while let box = try cursor.next() {
            if box.type == "trak", let track = try parseTrak(box.body) {
                tracks.append(track)
            } else if box.type == "mvex" {
                var mvex = BoxCursor(box.body)
                while let child = try mvex.next() {
                    guard child.type == "trex" else { continue }
                    var body = child.body
                    _ = try body.readVersionAndFlags("trex")
                    let id = Int(try body.readOrThrow("trex", "track_ID", as: UInt32.self))
                    _ = try body.readOrThrow("trex", "sample_description_index", as: UInt32.self)
                    let duration = try body.readOrThrow("trex", "default_sample_duration", as: UInt32.self)
                    let size = try body.readOrThrow("trex", "default_sample_size", as: UInt32.self)
                    let flags = try body.readOrThrow("trex", "default_sample_flags", as: UInt32.self)
                    trex[id] = (duration, size, flags)
                }
            }
        }
        for index in tracks.indices {
            if let defaults = trex[tracks[index].info.id] {
                tracks[index].defaultSampleDuration = defaults.0
                tracks[index].defaultSampleSize = defaults.1
                tracks[index].defaultSampleFlags = defaults.2
            }
        }
        return tracks
    }

    private static func parseTrak(_ trak: ByteBuffer) throws(M4FError) -> ParsedTrack? {
        guard var tkhd = try BoxCursor.find("tkhd", in: trak) else { throw .malformedBox(type: "trak", reason: "no tkhd") }
        let (tkhdVersion, _) = try tkhd.readVersionAndFlags("tkhd")
        tkhd.moveReaderIndex(forwardBy: min(tkhdVersion == 1 ? 16 : 8, tkhd.readableBytes))
        let trackID = Int(try tkhd.readOrThrow("tkhd", "track_ID", as: UInt32.self))
        guard let mdia = try BoxCursor.find("mdia", in: trak) else { throw .malformedBox(type: "trak", reason: "no mdia") }
        guard var mdhd = try BoxCursor.find("mdhd", in: mdia) else { throw .malformedBox(type: "mdia", reason: "no mdhd") }
        let (mdhdVersion, _) = try mdhd.readVersionAndFlags("mdhd")
        mdhd.moveReaderIndex(forwardBy: min(mdhdVersion == 1 ? 16 : 8, mdhd.readableBytes))
        let timescale = try mdhd.readOrThrow("mdhd", "timescale", as: UInt32.self)
        guard timescale > 0 else { throw .malformedBox(type: "mdhd", reason: "timescale 0") }
        guard let minf = try BoxCursor.find("minf", in: mdia), let stbl = try BoxCursor.find("stbl", in: minf),
            var stsd = try BoxCursor.find("stsd", in: stbl)
        else { throw .malformedBox(type: "trak", reason: "no minf/stbl/stsd") }
        _ = try stsd.readVersionAndFlags("stsd")
        _ = try stsd.readOrThrow("stsd", "entry_count", as: UInt32.self)
        var entries = BoxCursor(stsd)
        guard let entry = try entries.next() else { throw .malformedBox(type: "stsd", reason: "no sample entry") }
        switch entry.type {
        case "avc1", "avc3":
            let record = try childOfVisualEntry("avcC", entry.body, entry.type)
            do {
                let config = try H264Config(decoderConfigurationRecord: record)
                let lengthSize = record.count > 4 ? Int(record[4] & 0x03) + 1 : 4
                return ParsedTrack(info: TrackInfo(id: trackID, config: .h264(config)), timescale: timescale, nalLengthSize: lengthSize)
            } catch {
                throw .malformedBox(type: "avcC", reason: "\(error)")
            }
        case "hvc1", "hev1":
            let record = try childOfVisualEntry("hvcC", entry.body, entry.type)
            do {
                let config = try H265Config(decoderConfigurationRecord: record)
                let lengthSize = record.count > 21 ? Int(record[21] & 0x03) + 1 : 4
                return ParsedTrack(info: TrackInfo(id: trackID, config: .h265(config)), timescale: timescale, nalLengthSize: lengthSize)
            } catch {
                throw .malformedBox(type: "hvcC", reason: "\(error)")
            }
        case "mp4a":
            var body = entry.body
            guard body.readableBytes >= 28 else { throw .malformedBox(type: "mp4a", reason: "truncated sample entry") }
            body.moveReaderIndex(forwardBy: 28)
            guard var esds = try BoxCursor.find("esds", in: body) else { throw .malformedBox(type: "mp4a", reason: "no esds") }
            _ = try esds.readVersionAndFlags("esds")
            guard let asc = findDecoderSpecificInfo(&esds) else {
                throw .malformedBox(type: "esds", reason: "no DecoderSpecificInfo")
            }
            do {
                let config = try AACConfig(audioSpecificConfig: asc)
                return ParsedTrack(info: TrackInfo(id: trackID, config: .aac(config)), timescale: timescale, nalLengthSize: 0)
            } catch {
                throw .malformedBox(type: "esds", reason: "\(error)")
            }
        default:
            return nil
        }
    }

    private static func childOfVisualEntry(_ type: FourCC, _ entry: ByteBuffer, _ entryType: FourCC) throws(M4FError) -> [UInt8] {
        var body = entry
        guard body.readableBytes >= 78 else { throw .malformedBox(type: entryType.description, reason: "truncated sample entry") }
        body.moveReaderIndex(forwardBy: 78)
        guard let record = try BoxCursor.find(type, in: body) else {
            throw .malformedBox(type: entryType.description, reason: "no \(type)")
        }
        return Array(record.readableBytesView)
    }

    /// Walks ISO 14496-1 descriptors (ES > DecoderConfig > DecoderSpecificInfo) to the ASC bytes.
    private static func findDecoderSpecificInfo(_ buffer: inout ByteBuffer) -> [UInt8]? {
        while let tag = buffer.readInteger(as: UInt8.self) {
            var length = 0
            for _ in 0..<4 {
                guard let byte = buffer.readInteger(as: UInt8.self) else { return nil }
                length = length << 7 | Int(byte & 0x7F)
                if byte & 0x80 == 0 { break }
            }
            switch tag {
            case 0x03:
                guard buffer.readableBytes >= 3, let flags = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt8.self) else {
                    return nil
                }
                buffer.moveReaderIndex(forwardBy: 3)
                if flags & 0x80 != 0 { buffer.moveReaderIndex(forwardBy: min(2, buffer.readableBytes)) }
                if flags & 0x40 != 0 {
                    guard let urlLength = buffer.readInteger(as: UInt8.self), buffer.readableBytes >= Int(urlLength) else { return nil }
                    buffer.moveReaderIndex(forwardBy: Int(urlLength))
                }
                if flags & 0x20 != 0 { buffer.moveReaderIndex(forwardBy: min(2, buffer.readableBytes)) }
            case 0x04:
                guard buffer.readableBytes >= 13 else { return nil }
                buffer.moveReaderIndex(forwardBy: 13)
            case 0x05:
                return buffer.readBytes(length: min(length, buffer.readableBytes))
            default:
                guard buffer.readableBytes >= length else { return nil }
                buffer.moveReaderIndex(forwardBy: length)
            }
        }
        return nil
    }
}
