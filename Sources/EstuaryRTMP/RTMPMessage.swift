import NIOCore

/// One whole RTMP message, reassembled from its chunks.
public struct RTMPMessage: Sendable, Equatable {
    /// Message type ids this server handles.
    public enum Kind {
        public static let setChunkSize: UInt8 = 1
        public static let abort: UInt8 = 2
        public static let acknowledgement: UInt8 = 3
        public static let userControl: UInt8 = 4
        public static let windowAcknowledgementSize: UInt8 = 5
        public static let setPeerBandwidth: UInt8 = 6
        public static let audio: UInt8 = 8
        public static let video: UInt8 = 9
        public static let dataAMF3: UInt8 = 15
        public static let commandAMF3: UInt8 = 17
        public static let dataAMF0: UInt8 = 18
        public static let commandAMF0: UInt8 = 20
    }

    public var typeID: UInt8
    /// The message stream id (0 for the connection, the created stream's id for media).
    public var streamID: UInt32
    /// Milliseconds, as sent (wraps at 2³²).
    public var timestamp: UInt32
    public var payload: ByteBuffer

    public init(typeID: UInt8, streamID: UInt32, timestamp: UInt32, payload: ByteBuffer) {
        self.typeID = typeID
        self.streamID = streamID
        self.timestamp = timestamp
        self.payload = payload
    }
}
