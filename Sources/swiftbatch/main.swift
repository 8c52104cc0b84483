import BatchCLI

await SwiftBatchCLI.main(name: "swiftbatch", jobs: [
    LedgerSeedJob.job,
    LedgerETLJob.job,
    CSVImportJob.job,
    NoopPartitionsJob.job,
    NoopPartitionsJob.empty,
    LedgerAuditJob.job,
    LedgerSplitJob.job,
    LedgerETLAsyncJob.job,
    LedgerETLMultiThreadedJob.job,
    LedgerETLRemoteJob.job,
])
