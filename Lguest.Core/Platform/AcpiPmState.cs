using Lguest.Snapshot;

namespace Lguest.Platform;

/// <summary>The ACPI PM1a registers of <see cref="AcpiPmRegisters"/>, for snapshots.</summary>
/// <param name="Status">PM1a_STS.</param>
/// <param name="Enable">PM1a_EN.</param>
/// <param name="Control">PM1a_CNT (SCI_EN always set, SLP_EN never).</param>
public sealed record AcpiPmState(ushort Status, ushort Enable, ushort Control)
{
    /// <summary>Encodes the record.</summary>
    public byte[] Encode()
    {
        var w = new SnapshotStateWriter();
        w.WriteUInt16(Status);
        w.WriteUInt16(Enable);
        w.WriteUInt16(Control);
        return w.ToArray();
    }

    /// <summary>Decodes a record.</summary>
    /// <exception cref="SnapshotException">Truncated or too long.</exception>
    public static AcpiPmState Decode(ReadOnlyMemory<byte> data)
    {
        var r = new SnapshotStateReader(data, "the ACPI PM registers' state");
        var state = new AcpiPmState(r.ReadUInt16(), r.ReadUInt16(), r.ReadUInt16());
        r.RequireEnd();
        return state;
    }
}
