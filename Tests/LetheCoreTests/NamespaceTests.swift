@testable import LetheCore
import Testing

/// Issue 16, points 1, 2 and 9: what the state database and the inbox may be.
@Suite("Lethe's namespaces")
struct NamespaceTests {
    static let policy = PolicyTestSupport.load(
        "version: 1\nname: todo\ndatabase: todo\nrules:\n  - { collection: Item, match: owner_id, action: delete }\n"
            + "retention:\n  - { collection: sessions, field: seen, olderThan: 30d, action: delete }\n"
            + "users: { database: accounts, collection: users, field: id, identities: ids }\n").policies

    @Test("--state-db: MongoDB's naming rules (exit 64), not admin/local/config, not a policy's database (exit 65)")
    func stateDatabase() throws {
        try #require(Self.policy.count == 1)
        for bad in ["", "$x", "a.b", "a/b", "a b", "a\"b", "a\0b", String(repeating: "d", count: 64)] {
            #expect(LetheNamespaces.checkStateDatabase(bad, policies: []).map(\.kind) == [.badUsage], "\(bad)")
        }
        for system in ["admin", "local", "config"] {
            #expect(LetheNamespaces.checkStateDatabase(system, policies: []).map(\.kind) == [.badUsage])
        }
        #expect(LetheNamespaces.checkStateDatabase("lethe", policies: Self.policy).isEmpty)
        #expect(LetheNamespaces.checkStateDatabase("todo", policies: Self.policy).map(\.kind) == [.conflict])
        #expect(LetheNamespaces.checkStateDatabase("accounts", policies: Self.policy).map(\.kind) == [.conflict])
        #expect(LetheNamespaces.checkStateDatabase("$x", policies: [])[0].description.hasPrefix("--state-db is not a database name: it contains '$'"))
    }

    @Test("a policy may not name admin, local or config")
    func policyOnSystemDatabase() {
        #expect(PolicyTestSupport.load("version: 1\nname: t\ndatabase: admin\nrules: []\n").errors.map(\.keyPath) == ["database"])
    }

    @Test("--inbox: not one of Lethe's records, not a collection a policy names; the default and an outside collection are fine")
    func inbox() {
        func kind(_ database: String, _ collection: String) -> NamespaceProblem.Kind? {
            LetheNamespaces.checkInbox(database: database, collection: collection, stateDatabase: "lethe", policies: Self.policy)?.kind
        }
        #expect(kind("lethe", "inbox") == nil)
        #expect(kind("events", "deletions") == nil)
        #expect(kind("todo", "Other") == nil)
        for record in ["receipts", "audit", "requests", "holds", "settings", "refusals", "sweeps", "batches", "orphans", "retainedGroups", "inboxRejected"] {
            #expect(kind("lethe", record) == .badUsage, "\(record)")
        }
        #expect(kind("todo", "Item") == .conflict)
        #expect(kind("todo", "sessions") == .conflict)
        #expect(kind("accounts", "users") == .conflict)
        #expect(kind("local", "oplog.rs") == .badUsage)
        #expect(kind("lethe", "system.views") == .badUsage)
    }
}
