import BSON
import Foundation
import LetheCore
import MongoKit

/// Takes in the inbox collection (default `lethe.inbox`): producers (an App Services
/// authentication trigger, another auth system) insert raw events there. Each event
/// becomes a request (or a recorded refusal) before it leaves the inbox, so an event
/// is never lost: a crash in between means it is read again, and the event key makes
/// the second reading the same request.
public struct InboxConsumer: Sendable {
    public let collection: MongoCollection
    let intake: any DocumentIntake
    /// Events read per pass. Default 500.
    public var batchSize: Int

    public init(collection: MongoCollection, intake: any DocumentIntake, batchSize: Int = 500) {
        self.collection = collection
        self.intake = intake
        self.batchSize = batchSize
    }

    /// Takes in everything in the inbox now.
    public func drain() async throws -> IntakeCounts {
        var total = IntakeCounts()
        while true {
            let documents = try await collection.find([:], options: FindOptions(sort: ["_id": 1], limit: batchSize, batchSize: batchSize)).toArray()
            guard !documents.isEmpty else { break }
            let summary = try await intake.receive(documents: documents, channel: .inbox)
            total.add(IntakeCounts(summary))
            let ids = documents.compactMap { $0["_id"] }
            try await collection.deleteMany(["_id": ["$in": .array(ids)]])
            if documents.count < batchSize { break }
        }
        return total
    }
}

/// Takes in events that arrive as BSON documents (the inbox).
public protocol DocumentIntake: Sendable {
    func receive(documents: [BSONDocument], channel: Channel) async throws -> IntakeSummary
}
