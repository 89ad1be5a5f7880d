import EstuaryConfigExternal
import EstuaryTestSupport
import Testing

@Suite struct NameQueryTests {
    @Test func chunksKeepEveryQueryWithinTheLimitAndEveryNameOnce() {
        var generator = SeededGenerator(seed: 7)
        let names = (0..<2000).map { index in
            "cam-\(index)/" + String(repeating: "x", count: Int.random(in: 0...60, using: &generator))
        }
        let host = "ingest-3.example"
        let chunks = NameQuery.chunks(names: names, host: host)
        #expect(chunks.count > 1)
        #expect(chunks.flatMap { $0 } == names, "names lost, repeated or reordered")
        for chunk in chunks {
            let query = NameQuery.names(chunk, host: host)
            #expect(query.utf8.count <= 1024, "a query of \(query.utf8.count) bytes")
        }
        // Chunks are full: adding the next chunk's first name would break the limit.
        for (chunk, next) in zip(chunks, chunks.dropFirst()) {
            #expect(NameQuery.names(chunk + [next[0]], host: host).utf8.count > 1024)
        }
    }

    @Test func theConfiguredQueryCountsAgainstTheLimit() {
        let names = (0..<300).map { "stream\($0)" }
        let reserved = 600
        for chunk in NameQuery.chunks(names: names, host: "h", reserved: reserved) {
            #expect(NameQuery.names(chunk, host: "h").utf8.count + reserved <= 1024)
        }
    }

    @Test func aNameLongerThanTheLimitTravelsAlone() {
        let long = String(repeating: "a", count: 2000)
        #expect(NameQuery.chunks(names: ["x", long, "y"], host: "h") == [["x"], [long], ["y"]])
        #expect(NameQuery.chunks(names: [], host: "h").isEmpty)
    }

    @Test func encodingKeepsStreamNameCharactersAndEscapesTheRest() {
        #expect(NameQuery.encode("live/cam_1.hd-2~") == "live/cam_1.hd-2~")
        #expect(NameQuery.encode("a,b&c=d e") == "a%2Cb%26c%3Dd%20e")
        #expect(NameQuery.encode("é") == "%C3%A9")
        #expect(NameQuery.page(host: "n 1", cursor: "p&2") == "host=n%201&cursor=p%262")
        #expect(NameQuery.page(host: "n1", cursor: nil) == "host=n1")
    }
}
