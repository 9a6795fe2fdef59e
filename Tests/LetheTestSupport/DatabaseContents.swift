import BSON
import MongoKit

extension MongoDatabase {
    /// Every document of `collections`, without `_id`, as `collection {canonical JSON}`
    /// lines, sorted: two databases compared this way hold the same data whatever the
    /// `_id`s and the order the server returns.
    public func contentsWithoutIds(of collections: [String]) async throws -> [String] {
        var all: [String] = []
        for name in collections {
            for var document in try await collection(name).find().toArray() {
                document["_id"] = nil
                all.append(name + " " + document.extendedJSON(.canonical))
            }
        }
        return all.sorted()
    }
}
