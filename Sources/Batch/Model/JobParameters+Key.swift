import BatchSupport
import Foundation

/// The job key: what makes two launches the same job instance.
extension JobParameters {
    /// The lowercase hex MD5 of ``canonicalIdentifyingForm``, stored in
    /// `batch_job_instance.job_key` and unique together with the job name.
    ///
    /// Only identifying parameters count, so changing a non-identifying one reuses the instance.
    /// With no identifying parameters the key is the MD5 of the empty string,
    /// `d41d8cd98f00b204e9800998ecf8427e`. The key is not interchangeable with the one Spring
    /// Batch computes (its canonical text is different); do not mix instances from both.
    public var jobKey: String {
        MD5.hexDigest(of: canonicalIdentifyingForm.utf8)
    }

    /// The text hashed into ``jobKey``: the identifying parameters as netstrings.
    ///
    /// For each identifying parameter in ascending name order, three netstrings
    /// (`<length>:<bytes>,`, the length being the decimal UTF-8 byte count) holding the name,
    /// ``JobParameter/storageType`` and ``JobParameter/storageValue``, all in Unicode NFC.
    /// For example `run.id=1,long` and `day=2026-01-31,date` give
    /// `3:day,19:java.time.LocalDate,10:2026-01-31,6:run.id,14:java.lang.Long,1:1,`.
    ///
    /// Length prefixes make the text unambiguous whatever the names and values contain (`=`, `;`,
    /// `,`, `:` or newlines), so different parameter sets never share a text. NFC makes the key
    /// agree with Swift's `==`, under which canonically equivalent strings are equal.
    public var canonicalIdentifyingForm: String {
        var text = ""
        for (name, parameter) in self where parameter.identifying {
            for field in [name, parameter.storageType, parameter.storageValue] {
                let normalized = field.precomposedStringWithCanonicalMapping
                text += "\(normalized.utf8.count):\(normalized),"
            }
        }
        return text
    }
}
