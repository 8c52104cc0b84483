import BatchCLI

await SwiftBatchCLI.main(jobs: [
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
