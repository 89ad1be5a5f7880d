/// The last continuity counter seen on each PID the demuxer follows.
///
/// The demuxer follows a handful of PIDs (PAT, PMT, one video and one audio stream): the first four live in
/// four inline slots, checked in turn with no hashing and no heap storage; any further PID goes to a
/// dictionary. Every PID is kept correctly; only the speed assumes few.
struct ContinuityCounters {
    /// `pid << 8 | counter`, or -1 when empty (a PID is never negative, so -1 matches none).
    private var slot0 = -1
    private var slot1 = -1
    private var slot2 = -1
    private var slot3 = -1
    private var others: [Int: UInt8] = [:]

    /// The counter last stored for `pid`.
    subscript(pid: Int) -> UInt8? {
        if slot0 >> 8 == pid { return UInt8(slot0 & 0xFF) }
        if slot1 >> 8 == pid { return UInt8(slot1 & 0xFF) }
        if slot2 >> 8 == pid { return UInt8(slot2 & 0xFF) }
        if slot3 >> 8 == pid { return UInt8(slot3 & 0xFF) }
        return others[pid]
    }

    /// Forgets `pid`.
    mutating func remove(_ pid: Int) {
        if slot0 >> 8 == pid {
            slot0 = -1
        } else if slot1 >> 8 == pid {
            slot1 = -1
        } else if slot2 >> 8 == pid {
            slot2 = -1
        } else if slot3 >> 8 == pid {
            slot3 = -1
        } else if !others.isEmpty {
            others[pid] = nil
        }
    }

    /// Stores `counter` for `pid` and returns the counter it replaces, if any.
    mutating func update(_ counter: UInt8, for pid: Int) -> UInt8? {
        let entry = pid << 8 | Int(counter)
        if slot0 >> 8 == pid { return Self.replace(&slot0, with: entry) }
        if slot1 >> 8 == pid { return Self.replace(&slot1, with: entry) }
        if slot2 >> 8 == pid { return Self.replace(&slot2, with: entry) }
        if slot3 >> 8 == pid { return Self.replace(&slot3, with: entry) }
        if !others.isEmpty, let index = others.index(forKey: pid) {
            let old = others.values[index]
            others.values[index] = counter
            return old
        }
        if slot0 < 0 {
            slot0 = entry
        } else if slot1 < 0 {
            slot1 = entry
        } else if slot2 < 0 {
            slot2 = entry
        } else if slot3 < 0 {
            slot3 = entry
        } else {
            others[pid] = counter
        }
        return nil
    }

    /// Forgets every PID.
    mutating func removeAll() {
        slot0 = -1
        slot1 = -1
        slot2 = -1
        slot3 = -1
        if !others.isEmpty { others = [:] }
    }

    private static func replace(_ slot: inout Int, with entry: Int) -> UInt8 {
        let old = UInt8(slot & 0xFF)
        slot = entry
        return old
    }
}
