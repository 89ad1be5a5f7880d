import Hummingbird

/// Enforces an ``APIAccessPolicy`` in front of a router: `classify` names the right each request needs;
/// failures are counted per client IP by an ``AuthFailureThrottle``.
///
/// Guarantees: a refused request never reaches the router; an address that failed too often is answered
/// 429 without its credentials being checked; only wrong credentials count as failures (not missing ones,
/// nor 403: right credentials with too little right).
public struct APIAccessMiddleware<Context: RemoteAddressRequestContext>: RouterMiddleware {
    public let policy: APIAccessPolicy
    public let throttle: AuthFailureThrottle
    public let classify: @Sendable (Request) -> AccessNeed

    public init(policy: APIAccessPolicy, throttle: AuthFailureThrottle, classify: @escaping @Sendable (Request) -> AccessNeed) {
        self.policy = policy
        self.throttle = throttle
        self.classify = classify
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let need = classify(request)
        guard need != .open else { return try await next(request, context) }
        let ip = context.remoteAddress?.ipAddress ?? "unknown"
        if let wait = throttle.retryAfter(ip: ip) {
            throw AccessError(
                status: .tooManyRequests, code: "too_many_failures",
                detail: "too many failed authentications from \(ip); try again later",
                retryAfterSeconds: max(1, Int(wait.components.seconds) + 1))
        }
        let header = request.headers[.authorization]
        switch policy.decide(authorization: header, need: need) {
        case .allowed:
            return try await next(request, context)
        case .unauthorized(let reason):
            // A request without credentials is how every client starts; only wrong credentials are guesses.
            if header != nil { throttle.recordFailure(ip: ip) }
            throw AccessError.unauthorized(reason)
        case .forbidden(let reason):
            throw AccessError.forbidden(reason)
        }
    }
}
