import NIOCore

/// Pieces of a response body gathered to go out in one ``RawResponseBody/write(_:)-(RawBatch)`` (one hop to the event
/// loop), with the files their regions read. Whoever holds a batch closes its files: ``RawResponseBody`` after
/// writing it, or ``closeFiles()`` for a batch that will not be written.
struct RawBatch {
    /// Segment files a batch holds open before it should be written.
    static let filesPerWrite = 8

    var items: [IOData] = []
    private(set) var files: [NIOFileHandle] = []

    /// Opens the file at `path` (as ``RawResponseBody/openFile(_:holding:)``) and keeps it until the batch is written.
    mutating func open(_ path: String, holding length: Int, exactly: Bool = false) throws -> NIOFileHandle {
        let file = try RawResponseBody.openFile(path, holding: length, exactly: exactly)
        files.append(file)
        return file
    }

    /// Adds bytes `range` of the file at `path`, to be sent with sendfile.
    mutating func appendFile(_ path: String, range: Range<Int>) throws {
        let file = try open(path, holding: range.upperBound)
        items.append(.fileRegion(FileRegion(fileHandle: file, readerIndex: range.lowerBound, endIndex: range.upperBound)))
    }

    /// Closes the files and forgets them.
    mutating func closeFiles() {
        for file in files { try? file.close() }
        files = []
    }
}
