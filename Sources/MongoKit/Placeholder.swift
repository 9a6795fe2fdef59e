enum MongoKitPlaceholder {}
