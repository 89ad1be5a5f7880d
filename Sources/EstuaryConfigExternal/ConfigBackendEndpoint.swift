/// The configuration backend's endpoints (DESIGN §3).
public enum ConfigBackendEndpoint: String, Sendable, CaseIterable {
    /// `GET /streams`: the list of streams this node should run, paged by `cursor`; also the by-name
    /// endpoint unless the backend asks for separate endpoints.
    case streams
    /// `GET /update_streams_list?name=…`: running streams missing from the list, with separate endpoints.
    case updateStreamsList = "update_streams_list"
    /// `GET /dynamic_streams_list?name=…`: unknown names clients asked for, with separate endpoints.
    case dynamicStreamsList = "dynamic_streams_list"
    /// `GET /episodes?name=…`: archive sections the DVR must keep.
    case episodes

    /// The path component appended to the backend's base URL.
    public var pathComponent: String { rawValue }
}
