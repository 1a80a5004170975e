import CLibUV
import Glibc

/// The process's limit on open files (`RLIMIT_NOFILE`). Every client connection is a file
/// descriptor, and the customary soft limit of 1,024 is far below what the gateway serves, so
/// the gateway raises the soft limit to the hard one at start, as Go's runtime and nginx do.
package enum FileDescriptorLimit {
    /// Raises the soft limit to the hard limit; returns the soft limit in force afterwards.
    @discardableResult
    package static func raiseToHardLimit() -> UInt64 {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return UInt64(raised.rlim_max) }
        }
        return UInt64(limit.rlim_cur)
    }
}
