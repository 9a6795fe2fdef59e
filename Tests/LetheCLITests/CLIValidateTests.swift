import BSON
import Foundation
import LetheTestSupport
import Testing

@Suite("lethe validate")
struct CLIValidateTests {
    static func directory(_ files: [String: String]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-validate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(to: url.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        return url
    }

    @Test("the shipped example policy is valid with a key, and names LETHE_HASH_KEY without one")
    func example() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let policies = root.appendingPathComponent("policies").path
        let ok = try LetheExecutable.run(["validate", "--policies", policies], environment: ["LETHE_HASH_KEY": String(repeating: "ab", count: 32)])
        #expect(ok.exitCode == 0, "\(ok.output)")
        #expect(ok.stdout.contains("policy todo-app v1 valid"))
        #expect(ok.stdout.contains("fingerprint sha256:"))
        let noKey = try LetheExecutable.run(["validate", "--policies", policies], environment: ["LETHE_HASH_KEY": ""])
        #expect(noKey.exitCode == 65)
        #expect(noKey.stderr.contains("LETHE_HASH_KEY"))
    }

    @Test("every error of every file in one run, each with file:line:column, then exit 65")
    func allErrors() throws {
        let dir = try Self.directory([
            "a.yaml": "version: 1\nname: a\ndatabase: d\nrules:\n  - collection: c\n    match: owner\n    action: delet\n",
            "b.yaml": "version: 1\nname: b\ndatabase: d\nrules:\n  - collection: c\n    match: owner\n    action: delete\n    colour: red\n",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try LetheExecutable.run(["validate", "--policies", dir.path])
        #expect(result.exitCode == 65)
        #expect(result.stderr.contains("a.yaml:7:13: error: rules[0].action (rule #1): "), "\(result.stderr)")
        #expect(result.stderr.contains("did you mean 'delete'?"))
        #expect(result.stderr.contains("b.yaml:8:5: error: rules[0].colour"))
        #expect(result.stderr.contains("2 error(s)"))
    }

    @Test("a missing directory is a clear error")
    func missingDirectory() throws {
        let result = try LetheExecutable.run(["validate", "--policies", "/nonexistent/policies"])
        #expect(result.exitCode == 65)
        #expect(result.stderr.contains("/nonexistent/policies"))
    }

    @Test("--check-db reports a missing collection, an unindexed match, an unindexed retention date and a date stored as text", .enabled(if: TestServer.isConfigured, TestServer.skipReason))
    func checkDB() async throws {
        let pool = try TestServer.pool()
        let database = pool.database(TestServer.uniqueDatabaseName("chk"))
        try await database.collection("indexed").insertOne(["owner": "x", "seen": .datetime(BSONDatetime(Date()))])
        try await database.collection("indexed").createIndex(["owner": 1])
        try await database.collection("indexed").createIndex(["seen": 1])
        try await database.collection("scanned").insertOne(["owner": "x", "seen": "2020-01-01"])
        // A case-insensitive default collation: the index inherits it and cannot serve
        // comparisons as bytes.
        _ = try await database.runCommand(["create": "collated", "collation": ["locale": "en", "strength": 2]])
        try await database.collection("collated").insertOne(["owner": "x"])
        try await database.collection("collated").createIndex(["owner": 1])
        let dir = try Self.directory(["p.yaml": """
            version: 1
            name: p
            database: \(database.name)
            rules:
              - { collection: indexed, match: owner, action: delete }
              - { collection: scanned, match: owner, action: delete }
              - { collection: missing, match: owner, action: delete }
              - { collection: collated, match: owner, action: delete }
            retention:
              - { collection: scanned, field: seen, olderThan: 30d, action: delete }
              - { collection: indexed, field: seen, olderThan: 30d, action: delete }
            """])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try LetheExecutable.run(["validate", "--policies", dir.path, "--check-db"], environment: ["LETHE_MONGODB_URI": TestServer.uri!])
        #expect(result.exitCode == 0, "\(result.output)")
        #expect(result.stdout.contains("p #1 \(database.name).indexed: ok"))
        #expect(result.stdout.contains("p #2 \(database.name).scanned: warning: no index starts with owner"))
        #expect(result.stdout.contains("p #3 \(database.name).missing: warning: the collection does not exist"))
        #expect(result.stdout.contains("p retention[0] \(database.name).scanned: warning: no index starts with seen: every sweep scans"))
        #expect(result.stdout.contains("p retention[1] \(database.name).indexed: ok (collection exists, date field indexed)"))
        // The scanned collection's `seen` holds text: never due.
        #expect(result.stderr.contains("warning: p retention[0] field \(database.name).scanned 'seen': none of its values is a date (string 1"),
                "\(result.output)")
        let collatedLine = result.stdout.split(separator: "\n").first { $0.contains("p #4 ") }.map(String.init) ?? ""
        KnownDeviation.defaultCollationIgnored.expectOnMongoDB {
            #expect(collatedLine.contains("no index under the simple collation starts with owner"))
            #expect(collatedLine.contains(#"createIndex({"owner": 1}, {collation: {locale: "simple"}})"#))
        }
        try await database.drop()
        await pool.shutdown()
    }
}

extension CLIValidateTests {
    @Test("--check-db refuses users whose identities field no users document holds (the orphan sweep would take every linked identity for an orphan)",
          .enabled(if: TestServer.isConfigured, TestServer.skipReason))
    func checkUsers() async throws {
        let pool = try TestServer.pool()
        let database = pool.database(TestServer.uniqueDatabaseName("chku"))
        try await database.collection("profiles").insertOne(["user_id": "u1"])
        try await database.collection("items").insertOne(["owner": "u1"])
        let dir = try Self.directory(["p.yaml": """
            version: 1
            name: p
            database: \(database.name)
            rules:
              - { collection: items, match: owner, action: delete }
            users: { collection: profiles, field: user_id, identities: identity_ids }
            """])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try LetheExecutable.run(["validate", "--policies", dir.path, "--check-db"], environment: ["LETHE_MONGODB_URI": TestServer.uri!])
        #expect(result.exitCode == 65, "\(result.output)")
        #expect(result.stderr.contains("no users document has the field 'identity_ids'"))
        try await database.collection("profiles").updateOne(["user_id": "u1"], ["$set": ["identity_ids": ["g1"]]])
        let fixed = try LetheExecutable.run(["validate", "--policies", dir.path, "--check-db"], environment: ["LETHE_MONGODB_URI": TestServer.uri!])
        #expect(fixed.exitCode == 0, "\(fixed.output)")
        try await database.drop()
        await pool.shutdown()
    }
}

extension CLIValidateTests {
    @Test("--check-db samples each match path: array elements are shown, a cascade written as a path fails with exit 65 and points to lookups",
          .enabled(if: TestServer.isConfigured, TestServer.skipReason))
    func checkPathShapes() async throws {
        let pool = try TestServer.pool()
        let database = pool.database(TestServer.uniqueDatabaseName("chkp"))
        let ada = BSONObjectId(), post = BSONObjectId()
        try await database.collection("threads").insertOne(["participants": [["userId": .objectId(ada)], ["userId": .objectId(BSONObjectId())]]])
        try await database.collection("posts").insertOne(["_id": .objectId(post), "authorId": .objectId(ada)])
        try await database.collection("comments").insertOne(["postId": .objectId(post), "text": "nice"])
        func policy(_ commentsRule: String) -> String {
            """
            version: 1
            name: p
            database: \(database.name)
            subject: { idType: objectId }
            lookups:
              posts: { collection: posts, match: authorId, field: _id }
            rules:
              - { collection: threads, match: participants.userId, action: pull }
              \(commentsRule)
            """
        }
        let dir = try Self.directory(["p.yaml": policy("- { collection: comments, match: postId.authorId, action: delete }")])
        defer { try? FileManager.default.removeItem(at: dir) }
        let environment = ["LETHE_MONGODB_URI": TestServer.uri!]
        let broken = try LetheExecutable.run(["validate", "--policies", dir.path, "--check-db"], environment: environment)
        #expect(broken.exitCode == 65, "\(broken.output)")
        #expect(broken.stderr.contains("p.yaml:9:5: error: p rules[1] match"))
        #expect(broken.stderr.contains("'postId.authorId': no document has this path"))
        #expect(broken.stderr.contains("'postId' holds objectId values"))
        #expect(broken.stdout.contains("'participants.userId': holds elements of arrays of documents in 1"))
        #expect(!broken.output.contains(ada.hex) && !broken.output.contains(post.hex))

        try policy("- { collection: comments, match: postId, using: posts, action: delete }")
            .write(to: dir.appendingPathComponent("p.yaml"), atomically: true, encoding: .utf8)
        let fixed = try LetheExecutable.run(["validate", "--policies", dir.path, "--check-db"], environment: environment)
        #expect(fixed.exitCode == 0, "\(fixed.output)")
        #expect(fixed.stdout.contains("'postId': holds scalars in 1"))
        try await database.drop()
        await pool.shutdown()
    }
}
