/// Unwraps 33-bit MPEG timestamps onto a continuous 64-bit timeline.
enum TimestampUnwrapping {
    /// The value congruent to `raw` modulo 2^33 that is nearest to `reference`.
    ///
    /// A timestamp more than 2^32 ticks behind the reference is taken as having wrapped
    /// forward; one more than 2^32 ticks ahead as lying just before a wrap the reference
    /// has already passed (a late B-frame).
    static func unwrap(_ raw: Int64, near reference: Int64) -> Int64 {
        let modulus = MPEGTS.timestampModulus
        let half = modulus / 2
        let referenceMod = ((reference % modulus) + modulus) % modulus
        var difference = (raw & (modulus - 1)) - referenceMod
        if difference < -half {
            difference += modulus
        } else if difference > half {
            difference -= modulus
        }
        return reference &+ difference
    }
}
