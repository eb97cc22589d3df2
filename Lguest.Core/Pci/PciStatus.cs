namespace Lguest.Pci;

/// <summary>Bits of the status register (PCI_STATUS, PCI Local Bus 3.0 §6.2.3).</summary>
[Flags]
public enum PciStatus : ushort
{
    /// <summary>No bit set.</summary>
    None = 0,

    /// <summary>PCI_STATUS_INTERRUPT (read-only): the device is asserting INTx#, whether or not it is disabled.</summary>
    Interrupt = 0x8,

    /// <summary>PCI_STATUS_CAP_LIST (read-only): <see cref="PciHeader.CapabilityList"/> points at a capability list.</summary>
    CapabilityList = 0x10,

    /// <summary>PCI_STATUS_PARITY: master data parity error (write 1 to clear).</summary>
    MasterDataParityError = 0x100,

    /// <summary>PCI_STATUS_SIG_TARGET_ABORT (write 1 to clear).</summary>
    SignaledTargetAbort = 0x800,

    /// <summary>PCI_STATUS_REC_TARGET_ABORT (write 1 to clear).</summary>
    ReceivedTargetAbort = 0x1000,

    /// <summary>PCI_STATUS_REC_MASTER_ABORT (write 1 to clear).</summary>
    ReceivedMasterAbort = 0x2000,

    /// <summary>PCI_STATUS_SIG_SYSTEM_ERROR (write 1 to clear).</summary>
    SignaledSystemError = 0x4000,

    /// <summary>PCI_STATUS_DETECTED_PARITY (write 1 to clear).</summary>
    DetectedParityError = 0x8000,

    /// <summary>The error bits software clears by writing 1 to them.</summary>
    WriteOneToClear = MasterDataParityError | SignaledTargetAbort | ReceivedTargetAbort | ReceivedMasterAbort
        | SignaledSystemError | DetectedParityError,
}
