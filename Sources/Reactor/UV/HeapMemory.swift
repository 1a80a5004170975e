import CLibUV

/// How the process's heap gives memory back to the system. The gateway passes messages of many
/// MB (a ComfyUI `executed` output, a preview); with glibc's defaults, the memory of a burst of
/// them stays with the process long after it is freed.
package enum HeapMemory {
    /// Maps buffers of `bytes` or more on their own, so freeing one returns it to the system at
    /// once. Call once at start, before other threads allocate.
    package static func returnLargeBuffers(from bytes: Int = 256 * 1024) {
        _ = clibuv_set_mmap_threshold(Int32(bytes))
    }
}
