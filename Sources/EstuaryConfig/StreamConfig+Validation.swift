extension StreamConfig {
    /// The input URL schemes a stream may use (DESIGN §5).
    public static let supportedInputSchemes: Set<String> = [
        "fake", "m4f", "m4fs", "udp", "tshttp", "http", "https", "publish", "rtsp", "rtmp", "hls", "hlss",
    ]

    /// The longest stream name accepted.
    public static let maximumNameLength = 128

    /// Checks every rule of DESIGN §2 and throws the first violation, naming this stream and the field.
    ///
    /// Rules: the name (``isValidName(_:)``); at least one input (`publish://` is the input of a stream that
    /// is published to); input URLs with a supported scheme and, except `publish://`, a non-empty address;
    /// `source_timeout > 0`; `priority >= 0`; DVR `root` an absolute path, limits not negative,
    /// `disk_usage_limit` within 0…100, `replication_port` within 1…65535, `replication_speed > 0`,
    /// `episodes_url` an http(s) URL; push URLs with a scheme and an address.
    public func validate() throws(StreamConfigError) {
        if let reason = Self.nameProblem(name) {
            throw .invalidField(stream: name, field: "name", reason: reason)
        }
        guard !inputs.isEmpty else {
            throw .invalidField(
                stream: name,
                field: "inputs",
                reason: "at least one input is required (a stream that is published to takes the input publish://)"
            )
        }
        for (index, input) in inputs.enumerated() {
            try input.validate(stream: name, path: "inputs[\(index)]")
        }
        if let dvr {
            try dvr.validate(stream: name, path: "dvr")
        }
        if let captureAt = clusterIngest?.captureAt, captureAt.isEmpty {
            throw .invalidField(stream: name, field: "cluster_ingest.capture_at", reason: "must not be empty")
        }
        for (index, push) in pushes.enumerated() {
            let field = "pushes[\(index)].url"
            guard let parts = URLText.split(push.url), URLText.scheme(of: push.url) != nil, !parts.authority.isEmpty else {
                throw .invalidField(stream: name, field: field, reason: "expected scheme://address\(URLText.describe(push.url))")
            }
            if let problem = URLCheck.characterProblem(push.url) {
                throw .invalidField(stream: name, field: field, reason: problem)
            }
        }
    }

    /// Whether `name` is acceptable as a stream name (see ``validate()``).
    public static func isValidName(_ name: String) -> Bool {
        nameProblem(name) == nil
    }

    static func nameProblem(_ name: String) -> String? {
        if name.isEmpty { return "must not be empty" }
        if name.unicodeScalars.count > maximumNameLength {
            return "longer than \(maximumNameLength) characters"
        }
        // One pass over the bytes (names are ASCII once the first rule holds): this runs for every stream of
        // every configuration read, 10,000 at a time in a sidecar.
        var allowed = true
        var doubleDot = false
        var doubleSlash = false
        var dotSegment = false
        var previous: UInt8 = UInt8(ascii: "/")
        var segmentLength = 0
        var segmentIsDot = false
        for byte in name.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "-"):
                segmentIsDot = false
            case UInt8(ascii: "."):
                if previous == UInt8(ascii: ".") { doubleDot = true }
                segmentIsDot = segmentLength == 0
            case UInt8(ascii: "/"):
                if previous == UInt8(ascii: "/") { doubleSlash = true }
                if segmentIsDot && segmentLength == 1 { dotSegment = true }
                segmentLength = -1
                segmentIsDot = false
            default:
                allowed = false
            }
            segmentLength += 1
            previous = byte
        }
        if segmentIsDot && segmentLength == 1 { dotSegment = true }
        if !allowed { return "may contain only letters, digits and _ . - /" }
        if doubleDot { return "must not contain '..'" }
        if name.utf8.first == UInt8(ascii: "/") { return "must not begin with '/'" }
        if name.utf8.last == UInt8(ascii: "/") { return "must not end with '/'" }
        if doubleSlash { return "must not contain '//'" }
        if dotSegment { return "must not contain a '.' path segment" }
        return nil
    }
}

extension InputConfig {
    func validate(stream: String, path: String) throws(StreamConfigError) {
        var field: String { "\(path).url" }
        guard !url.isEmpty else {
            throw .invalidField(stream: stream, field: field, reason: "must not be empty")
        }
        guard let scheme, let parts = URLText.split(url) else {
            throw .invalidField(stream: stream, field: field, reason: "expected scheme://address\(URLText.describe(url))")
        }
        guard StreamConfig.supportedInputSchemes.contains(scheme) else {
            throw .invalidField(stream: stream, field: field, reason: "unsupported scheme '\(parts.scheme)'")
        }
        if scheme != "publish", URLText.hostAndPort(of: url)?.isEmpty ?? true {
            throw .invalidField(stream: stream, field: field, reason: "no address after '\(scheme)://'")
        }
        if let problem = URLCheck.characterProblem(url) {
            throw .invalidField(stream: stream, field: field, reason: problem)
        }
        guard sourceTimeout > 0 else {
            throw .invalidField(stream: stream, field: "\(path).source_timeout", reason: "must be greater than 0, got \(sourceTimeout)")
        }
        guard priority >= 0 else {
            throw .invalidField(stream: stream, field: "\(path).priority", reason: "must not be negative, got \(priority)")
        }
        if let clusterKey, clusterKey.isEmpty {
            throw .invalidField(stream: stream, field: "\(path).cluster_key", reason: "must not be empty")
        }
    }
}

extension DVRConfig {
    /// Checks the recording settings; `path` is the field path of this object (`dvr`, `sources[0].dvr`).
    func validationProblem(path: String) -> FieldError? {
        if root.isEmpty { return FieldError(field: "\(path).root", reason: "must not be empty") }
        if !root.hasPrefix("/") { return FieldError(field: "\(path).root", reason: "must be an absolute path, got '\(root)'") }
        let nonNegative: [(String, Int)] = [
            ("expiration", expiration), ("storage_limit", storageLimit), ("episodes_expiration", episodesExpiration),
        ]
        for (key, value) in nonNegative where value < 0 {
            return FieldError(field: "\(path).\(key)", reason: "must not be negative, got \(value)")
        }
        if !(0...100).contains(diskUsageLimit) {
            return FieldError(field: "\(path).disk_usage_limit", reason: "must be a percentage within 0…100, got \(diskUsageLimit)")
        }
        if let episodesURL {
            let scheme = URLText.scheme(of: episodesURL)
            if scheme != "http" && scheme != "https" || URLText.hostAndPort(of: episodesURL)?.isEmpty ?? true {
                return FieldError(
                    field: "\(path).episodes_url",
                    reason: "expected an http(s) URL\(URLText.describe(episodesURL))"
                )
            }
        }
        if let replicationPort, !(1...65_535).contains(replicationPort) {
            return FieldError(field: "\(path).replication_port", reason: "must be a port within 1…65535, got \(replicationPort)")
        }
        if let replicationSpeed, replicationSpeed <= 0 {
            return FieldError(field: "\(path).replication_speed", reason: "must be greater than 0, got \(replicationSpeed)")
        }
        return nil
    }

    func validate(stream: String, path: String) throws(StreamConfigError) {
        if let problem = validationProblem(path: path) {
            throw StreamConfigError(stream: stream, problem)
        }
    }
}

enum URLCheck {
    /// A reason when the URL holds spaces or control characters.
    static func characterProblem(_ url: String) -> String? {
        // ASCII is told apart without a Unicode property lookup (the stream list of a large cluster is checked at start).
        let bad = url.unicodeScalars.contains { scalar in
            scalar.isASCII ? scalar.value <= 0x20 || scalar.value == 0x7F : scalar.properties.isWhitespace
        }
        if bad {
            return "must not contain spaces or control characters"
        }
        return nil
    }
}
