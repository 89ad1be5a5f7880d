/// Why the sidecar's settings were refused; each case names the setting.
public enum SidecarSettingsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `SIDECAR_UPSTREAM` is not a usable URL.
    case invalidUpstream(String, reason: String)
    /// Another setting is malformed.
    case invalidSetting(name: String, value: String, reason: String)

    public var description: String {
        switch self {
        case .invalidUpstream(let url, let reason): "SIDECAR_UPSTREAM '\(url)': \(reason)"
        case .invalidSetting(let name, let value, let reason): "\(name) '\(value)': \(reason)"
        }
    }
}
