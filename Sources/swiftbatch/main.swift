import BatchCLI

await SwiftBatchCLI.main()
