import Foundation

/// A worker's name in its leases: its machine (host name and boot id), process id and
/// a random nonce, `host#pid#nonce#boot` (lanes add `/N`). From it, a worker on the
/// same machine can tell that the holder of a lease is gone (its process no longer
/// runs, or its pid is now the asking worker's own) and give the lease back at once,
/// instead of leaving the request for the lease to expire. Names of other machines, of
/// another boot, or of any other form are never judged: their leases expire.
public struct LeaseOwnerName: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var processId: Int32
    public var nonce: String
    /// The kernel's boot id, where the system has one: pids are unique only within one
    /// boot of one machine (and one pid namespace, which the host name stands for).
    public var boot: String?

    public init(host: String, processId: Int32, nonce: String, boot: String?) {
        self.host = host
        self.processId = processId
        self.nonce = nonce
        self.boot = boot
    }

    /// This process's name.
    public static func current() -> LeaseOwnerName {
        let info = ProcessInfo.processInfo
        return LeaseOwnerName(host: info.hostName, processId: info.processIdentifier,
                              nonce: String(UUID().uuidString.prefix(6)), boot: currentBoot)
    }

    static let currentBoot: String? = {
        guard let text = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8) else { return nil }
        let id = text.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "-", with: "")
        return id.isEmpty ? nil : String(id.prefix(12))
    }()

    public var description: String { "\(host)#\(processId)#\(nonce)" + (boot.map { "#\($0)" } ?? "") }

    /// The name in a lease's owner (a lane's `/N` dropped); nil for any other form.
    public init?(owner: String) {
        let name = owner.split(separator: "/", maxSplits: 1).first.map(String.init) ?? owner
        let parts = name.split(separator: "#", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, let pid = Int32(parts[1]), pid > 0, !parts[0].isEmpty, !parts[2].isEmpty, !parts[3].isEmpty
        else { return nil }
        self.init(host: parts[0], processId: pid, nonce: parts[2], boot: parts[3])
    }

    /// Whether `other` names a process of this machine and boot that no longer runs:
    /// its pid is gone, or is this process's own under another nonce (a restarted
    /// container's pid 1). A pid reused by an unrelated process reads as alive, and
    /// its lease expires as any other: the safe side.
    public func isGone(_ other: LeaseOwnerName, processExists: (Int32) -> Bool = LeaseOwnerName.processExists) -> Bool {
        guard let boot, other.boot == boot, other.host == host, other != self else { return false }
        if other.processId == processId { return other.nonce != nonce }
        return !processExists(other.processId)
    }

    public static func processExists(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno != ESRCH
    }
}
