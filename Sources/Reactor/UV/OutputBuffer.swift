/// A growable byte buffer in manually managed memory: the bytes a connection has accepted for
/// writing but libuv has not finished with. Its storage stays put while a `uv_write` reads it,
/// which a Swift array does not promise.
struct OutputBuffer {
    private(set) var base: UnsafeMutableRawPointer?
    private(set) var count = 0
    private var capacity = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        reserve(count + bytes.count)
        (base! + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        count += bytes.count
    }

    private mutating func reserve(_ needed: Int) {
        guard needed > capacity else { return }
        var newCapacity = max(capacity * 2, 4096)
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        if let base {
            newBase.copyMemory(from: base, byteCount: count)
            base.deallocate()
        }
        base = newBase
        capacity = newCapacity
    }

    /// Drops the first `count` bytes (the kernel took them), keeping the rest in order.
    mutating func removeFirst(_ count: Int) {
        guard count > 0 else { return }
        guard count < self.count else {
            clear()
            return
        }
        base!.copyMemory(from: base! + count, byteCount: self.count - count)
        self.count -= count
    }

    /// Empties the buffer; large storage is freed so idle connections stay small.
    mutating func clear() {
        count = 0
        if capacity > 64 * 1024 {
            release()
        }
    }

    /// Frees the storage.
    mutating func release() {
        base?.deallocate()
        base = nil
        count = 0
        capacity = 0
    }
}
