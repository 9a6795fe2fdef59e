import BSON
import Foundation
import LetheCore
import Logging
import MongoKit

/// Asks the server whether its `$in` matches values held inside arrays as MongoDB
/// documents it: an ObjectId or a binary in an array of them, and a value at a path
/// through an array of documents ("Query an Array", "Query an Array of Embedded
/// Documents"). MongoDB does; the test server does not (docs/test-server.md), and
/// `MongoDataStore.idsHolding` then asks each path again with equalities under `$or`,
/// after a `findOne {path: {$type: "array"}}` per step of the path to see whether it must.
/// Those probes read the whole collection on MongoDB as well (no index bounds
/// `$type: "array"`), so they are asked only where this probe found `$in` unfaithful.
///
/// One document in the state database's `serverProbes` (no personal data: a random
/// `_id`, a fresh ObjectId, a fixed string and 16 random bytes), one `findOne` by `_id`
/// per question, then the document is deleted (and any an interrupted probe left over an
/// hour ago). Any error or unexpected answer counts as "does not match": verification
/// then asks more, never less.
///
/// Asked when verification first needs it, and kept for the process (`ArrayMatching`):
/// a sweep, a report or a dry run never writes the scratch document.
enum ArrayMatchProbe {
    static let collection = "serverProbes"

    /// Throws when it could not ask; its scratch document is removed either way.
    static func inMatchesArrays(pool: MongoClientPool, stateDatabase: String) async throws -> Bool {
        let probes = pool.database(stateDatabase).collection(collection).comparingBytes()
        let marker = UUID().uuidString
        let objectId = BSON.objectId(BSONObjectId())
        let binary = BSON.binary(BSONBinary(subtype: BSONBinary.subtypeGeneric, data: (0..<16).map { _ in UInt8.random(in: 0...255) }))
        let text = BSON.string("lethe-probe")
        let questions: [(path: String, value: BSON)] = [
            ("objectIds", objectId), ("binaries", binary), ("documents.id", objectId), ("documents.id", text),
        ]
        do {
            // What a process that died mid-probe left behind. Not needed for the answer: a
            // server that refuses this unindexed query (`notablescan`) still gets probed.
            _ = try? await probes.deleteMany(["at": ["$lt": .datetime(BSONDatetime(Date().addingTimeInterval(-3_600)))]])
            try await probes.insertOne([
                "_id": .string(marker), "at": .datetime(BSONDatetime(Date())),
                "objectIds": [objectId], "binaries": [binary], "documents": [["id": objectId], ["id": text]],
            ])
            var faithful = true
            for question in questions where faithful {
                // The `_id` beside the path, as verification puts a rule's `where` beside its
                // match; MongoDB serves it from the `_id` index (nx misses all four either way).
                let found = try await probes.findOne(["_id": .string(marker), question.path: ["$in": [question.value]]],
                                                     options: FindOptions(projection: ["_id": 1]))
                faithful = found?["_id"] == .string(marker)
            }
            _ = try? await probes.deleteOne(["_id": .string(marker)])
            return faithful
        } catch {
            _ = try? await probes.deleteOne(["_id": .string(marker)])
            throw error
        }
    }
}

/// What the data store knows of its server's `$in`: given, or probed when first asked.
final class ArrayMatching: @unchecked Sendable {
    // @unchecked: `answer` and `warned` are guarded by the lock.
    private let lock = NSLock()
    private var answer: Bool?
    private var warned = false
    private let stateDatabase: String?
    private let logger: Logger

    /// Known already (tests, and tools that never verify).
    init(known: Bool) {
        answer = known
        stateDatabase = nil
        logger = Logger(label: "lethe.data")
    }

    /// To be probed in `stateDatabase` when first asked.
    init(probingIn stateDatabase: String, logger: Logger) {
        self.stateDatabase = stateDatabase
        self.logger = logger
    }

    /// The answer; the first call probes (two calls at once may both probe: the same
    /// answer). A probe that could not ask counts as "does not match" for this call
    /// only: the next verification asks again, so an outage at the first one does not
    /// slow a long-running worker for good. The operator is told once.
    func inMatchesArrays(pool: MongoClientPool) async -> Bool {
        if let known = lock.withLock({ answer }) { return known }
        guard let stateDatabase else { return false }
        do {
            let probed = try await ArrayMatchProbe.inMatchesArrays(pool: pool, stateDatabase: stateDatabase)
            lock.withLock { answer = probed }
            logger.debug("the server's $in probed", metadata: [LogKey.inMatchesArrays: .stringConvertible(probed)])
            return probed
        } catch {
            if lock.withLock({ let first = !warned; warned = true; return first }) {
                logger.warning("could not ask the server how its $in matches inside arrays (\(stateDatabase).\(ArrayMatchProbe.collection)); verification asks each id again by equality, which is slower, and asks the server again next time",
                               metadata: [LogKey.reason: .string("\(error)")])
            }
            return false
        }
    }
}
