/// The pace of `submit` messages one gateway WebSocket may send: a token bucket that refills
/// `perSecond` tokens a second and holds at most twice that, so a client can send a burst of
/// work at once but not flood ComfyUI's queue. One per socket, used on its loop.
struct SubmitRateLimit {
    let perSecond: Int
    private var tokens: Double
    private var refilled: ContinuousClock.Instant

    init(perSecond: Int, now: ContinuousClock.Instant = .now) {
        self.perSecond = perSecond
        tokens = Double(2 * perSecond)
        refilled = now
    }

    /// Takes one token, or returns false when the bucket is empty.
    mutating func take(now: ContinuousClock.Instant = .now) -> Bool {
        let elapsed = now - refilled
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        tokens = min(Double(2 * perSecond), tokens + seconds * Double(perSecond))
        refilled = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
