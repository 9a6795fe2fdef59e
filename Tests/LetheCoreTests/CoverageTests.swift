import BSON
import Foundation
@testable import LetheCore
import LetheCoreTestSupport
import Testing

/// The coverage report over data in the published shapes of MongoDB's sample_mflix
/// (users, comments, sessions, theaters) and of the demo's todo app
/// (scripts/demo_seed.py), with a collection and an embedded email the policies miss.
@Suite("Coverage report (in memory)")
struct CoverageTests {
    static let mflixPolicy = """
        version: 1
        name: mflix
        database: sample_mflix
        subject: { idType: string, includeIdentities: false }
        rules:
          - collection: users
            match: email
            action: delete
          - collection: comments
            match: email
            action: anonymize
            set: { name: Deleted user }
        users:
          collection: users
          field: email
        """

    /// policies/todo-app.yaml, less `unset: [author.email]`: the embedded email is missed.
    static func todoPolicy() throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../policies/todo-app.yaml").standardized
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.contains("    unset: [author.email]\n"))
        return text.replacingOccurrences(of: "    unset: [author.email]\n", with: "")
    }

    static func seed(_ data: InMemoryDataStore) async {
        // sample_mflix, as published (passwords are bcrypt hashes, ids ObjectIds).
        let mflix = { (name: String) in Namespace(database: "sample_mflix", collection: name) }
        let people = [("Ned Stark", "sean_bean@gameofthron.es"), ("Robert Baratheon", "mark_addy@gameofthron.es"),
                      ("Jaime Lannister", "nikolaj_coster-waldau@gameofthron.es")]
        for (name, email) in people {
            await data.insert([["_id": .objectId(BSONObjectId()), "name": .string(name), "email": .string(email),
                                "password": "$2b$12$UREFwsRUoyF0CRqGNK0LzO0HM/jLhgUCNNIJ9RJAqMUQ74crlJ1Vu"]], into: mflix("users"))
            await data.insert([["_id": .objectId(BSONObjectId()), "name": .string(name), "email": .string(email),
                                "movie_id": .objectId(BSONObjectId()), "text": "Rem officiis eaque repellendus amet eos doloribus.",
                                "date": .datetime(BSONDatetime(Date(timeIntervalSince1970: 1_000_000_000)))]], into: mflix("comments"))
            await data.insert([["_id": .objectId(BSONObjectId()), "user_id": .string(email), "jwt": "eyJhbGciOiJIUzI1NiJ9.e30.x"]], into: mflix("sessions"))
        }
        await data.insert([["_id": .objectId(BSONObjectId()), "theaterId": 1000, "location": [
            "address": ["street1": "340 W Market", "city": "Bloomington", "state": "MN", "zipcode": "55425"],
            "geo": ["type": "Point", "coordinates": [-93.24565, 44.85466]]]]], into: mflix("theaters"))
        await data.insert([["_id": .objectId(BSONObjectId()), "title": "The Great Train Robbery", "year": 1903, "imdb": ["rating": 7.4]]],
                          into: mflix("movies"))

        // The demo's todo app (scripts/demo_seed.py).
        let todo = { (name: String) in Namespace(database: "todo", collection: name) }
        let users = [("6560f1c2a1b2c3d4e5f60001", "Alice Example", "alice@example.com", "6560f1c2a1b2c3d4e5f6a001", "203.0.113.10"),
                     ("6560f1c2a1b2c3d4e5f60002", "Bob Example", "bob@example.com", "6560f1c2a1b2c3d4e5f6a002", "2001:db8::20")]
        for (uid, name, email, identity, ip) in users {
            await data.insert((0..<3).map { ["summary": .string("task \($0)"), "owner_id": .string(uid), "isComplete": false] }, into: todo("Item"))
            await data.insert([["owner_id": .string(identity), "summary": "made before linking accounts"]], into: todo("Item"))
            await data.insert([["user_id": .string(uid), "identity_ids": [.string(identity)], "name": .string(name), "email": .string(email),
                                "phone": "+1 555 010 0199", "favoriteColor": "teal"]], into: todo("custom_user_data"))
            await data.insert([["text": "comment", "author": ["id": .string(uid), "name": .string(name), "email": .string(email), "ip": .string(ip)]]],
                              into: todo("comments"))
            await data.insert([["customer_id": .string(uid), "total": 19.99, "shipping_address": "1 Example Street"]], into: todo("orders"))
            await data.insert([["owner_id": .string(uid), "shared": true, "title": "team notes"]], into: todo("shared_docs"))
            await data.insert([["user_id": .string(uid), "last_seen": .datetime(BSONDatetime(Date()))]], into: todo("sessions"))
        }
        await data.insert([["title": "launch", "members": [.string(users[0].0), .string(users[1].0)]]], into: todo("projects"))
    }

    static func scanner(_ data: InMemoryDataStore, sample: Int = 1_000) throws -> CoverageScanner {
        var policies: [Policy] = []
        for (yaml, file) in [(mflixPolicy, "mflix.yaml"), (try todoPolicy(), "todo-app.yaml")] {
            let loaded = PolicyLoader.load(yaml: yaml, file: file, options: .init(hashKeyConfigured: true))
            policies.append(try #require(loaded.policies.first, "\(loaded.diagnostics)"))
        }
        return CoverageScanner(policies: policies, data: data, sampler: data, options: .init(sample: sample, excludedDatabases: ["lethe"]))
    }

    @Test("the collection and the embedded email the policies miss are reported, and nothing a rule covers")
    func missedAreReported() async throws {
        let data = InMemoryDataStore()
        await Self.seed(data)
        let report = try await Self.scanner(data).scan()
        #expect(report.databases == ["sample_mflix", "todo"])
        let uncovered = Set(report.uncovered.map { "\($0.collection.namespace) \($0.path.path)" })
        #expect(uncovered == ["sample_mflix.sessions user_id", "todo.comments author.email", "todo.sessions user_id"])
        let paths = Dictionary(uniqueKeysWithValues: report.collections.flatMap { c in c.paths.map { ("\(c.namespace) \($0.path)", $0) } })
        // What each path was found to hold.
        #expect(paths["sample_mflix.sessions user_id"]?.userIds == 3 && paths["sample_mflix.sessions user_id"]?.emails == 3)
        #expect(paths["todo.comments author.email"]?.emails == 2 && paths["todo.comments author.email"]?.userIds == 0)
        #expect(paths["todo.sessions user_id"]?.userIds == 2)
        #expect(paths["todo.Item owner_id"]?.userIds == 8, "identity ids count as known users (users.identities)")
        #expect(paths["todo.comments author.ip"]?.ipAddresses == 2 && paths["todo.comments author.ip"]?.covered == true)
        #expect(paths["todo.custom_user_data phone"]?.phones == 2 && paths["todo.custom_user_data phone"]?.covered == true)
        #expect(paths["todo.projects members"]?.coveredBy == ["todo-app #4 pull (match)"])
        #expect(paths["todo.orders customer_id"]?.covered == true, "retained: the policy's decision")
        #expect(paths["sample_mflix.comments email"]?.coveredBy == ["mflix #2 anonymize (match)"])
        // Nothing personal-looking in movies, theaters, or the bcrypt hash and the session token.
        #expect(report.collections.first { $0.namespace == "sample_mflix.movies" }?.paths.isEmpty == true)
        #expect(report.collections.first { $0.namespace == "sample_mflix.theaters" }?.paths.isEmpty == true)
        #expect(paths["sample_mflix.users password"] == nil && paths["sample_mflix.sessions jwt"] == nil)
        // It never wrote.
        let commands = await data.commands
        #expect(commands["update"] == nil && commands["delete"] == nil)
    }

    @Test("text, JSON and the draft hold counts and kinds, never a sampled value; the draft is a valid policy for the missed paths")
    func outputs() async throws {
        let data = InMemoryDataStore()
        await Self.seed(data)
        let report = try await Self.scanner(data).scan()
        let outputs = [report.text, try report.json(), report.draftPolicyYAML]
        for output in outputs {
            for value in ["example.com", "gameofthron.es", "6560f1c2", "203.0.113", "2001:db8", "555", "Alice", "Ned"] {
                #expect(!output.contains(value), "\(value) in \(output)")
            }
        }
        #expect(report.text.contains("UNCOVERED author.email: email 2 of 2 value(s)"))
        let drafts = report.draftPolicyYAML.components(separatedBy: "---\n").dropFirst()
        #expect(drafts.count == 2)
        var rules: [String: ErasureRule] = [:]
        for draft in drafts {
            let loaded = PolicyLoader.load(yaml: draft, file: "draft.yaml", options: .init(hashKeyConfigured: true))
            let policy = try #require(loaded.policies.first, "\(loaded.diagnostics) in\n\(draft)")
            for rule in policy.rules { rules["\(policy.database).\(rule.collection)"] = rule }
        }
        #expect(rules["todo.comments"]?.match == ["author.id"])
        guard case .anonymize(let changes)? = rules["todo.comments"]?.action else { Issue.record("comments not anonymized"); return }
        #expect(changes.unset == ["author.email"])
        #expect(rules["todo.sessions"]?.match == ["user_id"] && rules["sample_mflix.sessions"]?.match == ["user_id"])
        #expect(rules.count == 3)
    }

    @Test("it reads no more than the sample of each collection, and the sample is bounded")
    func bounded() async throws {
        let data = InMemoryDataStore()
        await Self.seed(data)
        let report = try await Self.scanner(data, sample: 2).scan()
        #expect(report.collections.allSatisfy { $0.sampled <= 2 })
        #expect(report.collections.first { $0.namespace == "todo.Item" }?.sampled == 2)
        #expect(CoverageScanner.Options(sample: 1_000_000).sample == CoverageScanner.Options.maximumSample)
    }

    @Test("kinds by pattern: emails, phone numbers, IPv4 and IPv6; not dates, amounts, tokens or hashes")
    func kinds() {
        #expect(ValueKind.of("sean_bean@gameofthron.es") == .email)
        #expect(ValueKind.of("+44 20 7946 0958") == .phone && ValueKind.of("(555) 010-0199") == .phone && ValueKind.of("555-010-0199") == .phone)
        #expect(ValueKind.of("203.0.113.10") == .ipAddress && ValueKind.of("2001:db8::20") == .ipAddress && ValueKind.of("::1") == .ipAddress)
        for text in ["2024-01-31", "2024-01-31 12:30", "1700000000", "19.99", "a@b", "not an email@x.y", "12:30", "1.2.3", "deadbeef",
                     "$2b$12$UREFwsRUoyF0CRqGNK0LzO0HM", "h1:0123456789abcdef0123456789abcdef", "999.1.1.1"] {
            #expect(ValueKind.of(text) == nil, "\(text)")
        }
    }
}
