import LetheService
import Testing

/// What `validate --check-db` says of a rule's index (no server needed).
@Suite("Rule database check: messages")
struct RuleDatabaseCheckTests {
    @Test("an unindexed match names the index to create; under a default collation, one with the simple collation")
    func messages() {
        let plain = RuleDatabaseCheck(policy: "p", ruleIndex: 0, namespace: "app.notes", collectionExists: true, unindexedPaths: ["owner"])
        #expect(plain.description.hasSuffix(#"db.notes.createIndex({"owner": 1})"#))
        #expect(!plain.isClean)
        let collated = RuleDatabaseCheck(policy: "p", ruleIndex: 0, namespace: "app.notes", collectionExists: true,
                                         unindexedPaths: ["owner"], defaultCollation: "en")
        #expect(collated.description.contains("default collation is 'en'"))
        #expect(collated.description.hasSuffix(#"db.notes.createIndex({"owner": 1}, {collation: {locale: "simple"}})"#))
        let clean = RuleDatabaseCheck(policy: "p", ruleIndex: 0, namespace: "app.notes", collectionExists: true,
                                      unindexedPaths: [], defaultCollation: "en")
        #expect(clean.isClean && clean.description.hasSuffix("ok (collection exists, match indexed)"))
    }

    @Test("an unindexed retention date field says every sweep scans, and names the index; an indexed one is ok")
    func retentionMessages() {
        let unindexed = RuleDatabaseCheck(policy: "p", ruleIndex: 0, isRetention: true, namespace: "app.sessions", collectionExists: true,
                                          unindexedPaths: ["last_seen"])
        #expect(unindexed.description.hasPrefix("p retention[0] app.sessions: warning: no index starts with last_seen: every sweep scans"))
        #expect(unindexed.description.hasSuffix(#"db.sessions.createIndex({"last_seen": 1})"#))
        let indexed = RuleDatabaseCheck(policy: "p", ruleIndex: 1, isRetention: true, namespace: "app.events", collectionExists: true, unindexedPaths: [])
        #expect(indexed.isClean && indexed.description == "p retention[1] app.events: ok (collection exists, date field indexed)")
    }
}
