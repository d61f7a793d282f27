//! Every OCPP 1.6 enumeration as a Rust enum with its exact wire spelling.
//!
//! The spelling is normative (case-sensitive, typos included), so each variant carries its wire
//! string explicitly instead of relying on a serde rename rule.

/// Declares a wire enum: serde uses the given strings, `as_str` returns them, `Display` prints them.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $wire $(, alias = $alias)*)] $variant,)+
        }

        impl $name {
            /// The exact string used on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $wire,)+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// Answer to BootNotification.
    RegistrationStatus { Accepted = "Accepted", Pending = "Pending", Rejected = "Rejected" }
);

wire_enum!(
    /// Status of an idTag in `IdTagInfo`.
    AuthorizationStatus {
        Accepted = "Accepted",
        Blocked = "Blocked",
        Expired = "Expired",
        /// Unknown tag.
        Invalid = "Invalid",
        /// Tag already in another transaction; only meaningful in StartTransaction.conf.
        ConcurrentTx = "ConcurrentTx",
    }
);

wire_enum!(
    /// Connector (or, for connectorId 0, charge point) status in StatusNotification.
    ChargePointStatus {
        Available = "Available",
        Preparing = "Preparing",
        Charging = "Charging",
        SuspendedEVSE = "SuspendedEVSE",
        SuspendedEV = "SuspendedEV",
        Finishing = "Finishing",
        Reserved = "Reserved",
        Unavailable = "Unavailable",
        Faulted = "Faulted",
    }
);

wire_enum!(
    /// Error code in StatusNotification (`NoError` when fine).
    ChargePointErrorCode {
        ConnectorLockFailure = "ConnectorLockFailure",
        EVCommunicationError = "EVCommunicationError",
        GroundFailure = "GroundFailure",
        HighTemperature = "HighTemperature",
        InternalError = "InternalError",
        LocalListConflict = "LocalListConflict",
        NoError = "NoError",
        OtherError = "OtherError",
        OverCurrentFailure = "OverCurrentFailure",
        OverVoltage = "OverVoltage",
        PowerMeterFailure = "PowerMeterFailure",
        PowerSwitchFailure = "PowerSwitchFailure",
        ReaderFailure = "ReaderFailure",
        ResetFailure = "ResetFailure",
        UnderVoltage = "UnderVoltage",
        WeakSignal = "WeakSignal",
    }
);

wire_enum!(
    /// Why a transaction stopped. Absent on the wire means `Local`.
    Reason {
        DeAuthorized = "DeAuthorized",
        EmergencyStop = "EmergencyStop",
        EVDisconnected = "EVDisconnected",
        HardReset = "HardReset",
        Local = "Local",
        Other = "Other",
        PowerLoss = "PowerLoss",
        Reboot = "Reboot",
        Remote = "Remote",
        SoftReset = "SoftReset",
        UnlockCommand = "UnlockCommand",
    }
);

wire_enum!(
    /// What a sampled value measures. Absent means `Energy.Active.Import.Register`.
    Measurand {
        CurrentExport = "Current.Export",
        CurrentImport = "Current.Import",
        CurrentOffered = "Current.Offered",
        EnergyActiveExportRegister = "Energy.Active.Export.Register",
        EnergyActiveImportRegister = "Energy.Active.Import.Register",
        EnergyReactiveExportRegister = "Energy.Reactive.Export.Register",
        EnergyReactiveImportRegister = "Energy.Reactive.Import.Register",
        EnergyActiveExportInterval = "Energy.Active.Export.Interval",
        EnergyActiveImportInterval = "Energy.Active.Import.Interval",
        EnergyReactiveExportInterval = "Energy.Reactive.Export.Interval",
        EnergyReactiveImportInterval = "Energy.Reactive.Import.Interval",
        Frequency = "Frequency",
        PowerActiveExport = "Power.Active.Export",
        PowerActiveImport = "Power.Active.Import",
        PowerFactor = "Power.Factor",
        PowerOffered = "Power.Offered",
        PowerReactiveExport = "Power.Reactive.Export",
        PowerReactiveImport = "Power.Reactive.Import",
        Rpm = "RPM",
        SoC = "SoC",
        Temperature = "Temperature",
        Voltage = "Voltage",
    }
);

wire_enum!(
    /// Why a sample was taken. Absent means `Sample.Periodic`.
    ReadingContext {
        InterruptionBegin = "Interruption.Begin",
        InterruptionEnd = "Interruption.End",
        Other = "Other",
        SampleClock = "Sample.Clock",
        SamplePeriodic = "Sample.Periodic",
        TransactionBegin = "Transaction.Begin",
        TransactionEnd = "Transaction.End",
        Trigger = "Trigger",
    }
);

wire_enum!(
    /// Raw decimal text or hex-encoded signed data.
    ValueFormat { Raw = "Raw", SignedData = "SignedData" }
);

wire_enum!(
    /// Phase of a sampled value; absent means the overall value.
    Phase {
        L1 = "L1",
        L2 = "L2",
        L3 = "L3",
        N = "N",
        L1N = "L1-N",
        L2N = "L2-N",
        L3N = "L3-N",
        L1L2 = "L1-L2",
        L2L3 = "L2-L3",
        L3L1 = "L3-L1",
    }
);

wire_enum!(
    /// Where a sample was measured. Absent means `Outlet`.
    Location { Body = "Body", Cable = "Cable", Ev = "EV", Inlet = "Inlet", Outlet = "Outlet" }
);

wire_enum!(
    /// Unit of a sampled value. Absent means `Wh`.
    ///
    /// `Celcius` (typo of the original schemas) is read as `Celsius`; `Hertz` exists because the
    /// errata names it for Frequency although the 1.6 schemas have no unit for it.
    UnitOfMeasure {
        Wh = "Wh",
        KWh = "kWh",
        Varh = "varh",
        Kvarh = "kvarh",
        W = "W",
        KW = "kW",
        Va = "VA",
        KVa = "kVA",
        Var = "var",
        Kvar = "kvar",
        A = "A",
        V = "V",
        Celsius = "Celsius" | "Celcius",
        Fahrenheit = "Fahrenheit",
        K = "K",
        Percent = "Percent",
        Hertz = "Hertz",
    }
);

wire_enum!(
    /// Answer to RemoteStartTransaction / RemoteStopTransaction.
    RemoteStartStopStatus { Accepted = "Accepted", Rejected = "Rejected" }
);

wire_enum!(
    /// Answer to ReserveNow.
    ReservationStatus {
        Accepted = "Accepted",
        Faulted = "Faulted",
        Occupied = "Occupied",
        Rejected = "Rejected",
        Unavailable = "Unavailable",
    }
);

wire_enum!(
    /// Answer to CancelReservation.
    CancelReservationStatus { Accepted = "Accepted", Rejected = "Rejected" }
);

wire_enum!(
    /// ChangeAvailability target state.
    AvailabilityType { Inoperative = "Inoperative", Operative = "Operative" }
);

wire_enum!(
    /// Answer to ChangeAvailability.
    AvailabilityStatus { Accepted = "Accepted", Rejected = "Rejected", Scheduled = "Scheduled" }
);

wire_enum!(
    /// Reset kind.
    ResetType { Hard = "Hard", Soft = "Soft" }
);

wire_enum!(
    /// Answer to Reset.
    ResetStatus { Accepted = "Accepted", Rejected = "Rejected" }
);

wire_enum!(
    /// Answer to UnlockConnector.
    UnlockStatus { Unlocked = "Unlocked", UnlockFailed = "UnlockFailed", NotSupported = "NotSupported" }
);

wire_enum!(
    /// Answer to ChangeConfiguration.
    ConfigurationStatus {
        Accepted = "Accepted",
        Rejected = "Rejected",
        RebootRequired = "RebootRequired",
        NotSupported = "NotSupported",
    }
);

wire_enum!(
    /// Answer to ClearCache.
    ClearCacheStatus { Accepted = "Accepted", Rejected = "Rejected" }
);

wire_enum!(
    /// Answer to DataTransfer (either direction).
    DataTransferStatus {
        Accepted = "Accepted",
        Rejected = "Rejected",
        UnknownMessageId = "UnknownMessageId",
        UnknownVendorId = "UnknownVendorId",
    }
);

wire_enum!(
    /// Message a TriggerMessage asks for.
    MessageTrigger {
        BootNotification = "BootNotification",
        DiagnosticsStatusNotification = "DiagnosticsStatusNotification",
        FirmwareStatusNotification = "FirmwareStatusNotification",
        Heartbeat = "Heartbeat",
        MeterValues = "MeterValues",
        StatusNotification = "StatusNotification",
    }
);

wire_enum!(
    /// Answer to TriggerMessage.
    TriggerMessageStatus { Accepted = "Accepted", Rejected = "Rejected", NotImplemented = "NotImplemented" }
);

wire_enum!(
    /// DiagnosticsStatusNotification status.
    DiagnosticsStatus { Idle = "Idle", Uploaded = "Uploaded", UploadFailed = "UploadFailed", Uploading = "Uploading" }
);

wire_enum!(
    /// FirmwareStatusNotification status.
    FirmwareStatus {
        Downloaded = "Downloaded",
        DownloadFailed = "DownloadFailed",
        Downloading = "Downloading",
        Idle = "Idle",
        InstallationFailed = "InstallationFailed",
        Installing = "Installing",
        Installed = "Installed",
    }
);

wire_enum!(
    /// Purpose of a charging profile.
    ChargingProfilePurposeType {
        ChargePointMaxProfile = "ChargePointMaxProfile",
        TxDefaultProfile = "TxDefaultProfile",
        TxProfile = "TxProfile",
    }
);

wire_enum!(
    /// Kind of a charging profile.
    ChargingProfileKindType { Absolute = "Absolute", Recurring = "Recurring", Relative = "Relative" }
);

wire_enum!(
    /// Recurrence of a `Recurring` charging profile.
    RecurrencyKindType { Daily = "Daily", Weekly = "Weekly" }
);

wire_enum!(
    /// `W` = total power, `A` = current per phase.
    ChargingRateUnitType { W = "W", A = "A" }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_strings_round_trip_exactly() {
        assert_eq!(serde_json::to_string(&Measurand::EnergyActiveImportRegister).unwrap(), "\"Energy.Active.Import.Register\"");
        assert_eq!(serde_json::to_string(&Phase::L1N).unwrap(), "\"L1-N\"");
        assert_eq!(serde_json::to_string(&ChargePointStatus::SuspendedEVSE).unwrap(), "\"SuspendedEVSE\"");
        let p: ReadingContext = serde_json::from_str("\"Sample.Periodic\"").unwrap();
        assert_eq!(p, ReadingContext::SamplePeriodic);
        assert_eq!(Location::Ev.as_str(), "EV");
    }

    #[test]
    fn celcius_typo_is_read_as_celsius_and_written_correctly() {
        let u: UnitOfMeasure = serde_json::from_str("\"Celcius\"").unwrap();
        assert_eq!(u, UnitOfMeasure::Celsius);
        assert_eq!(serde_json::to_string(&u).unwrap(), "\"Celsius\"");
    }

    #[test]
    fn wrong_case_is_rejected() {
        assert!(serde_json::from_str::<RegistrationStatus>("\"accepted\"").is_err());
    }
}
