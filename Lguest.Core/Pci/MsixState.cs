using Lguest.Snapshot;

namespace Lguest.Pci;

/// <summary>
/// An <see cref="MsixCapability"/>'s vector table and pending bits, for snapshots. The enable and function-mask bits
/// are in configuration space, which is restored first; the backend's MSI routes are programmed again from the table.
/// </summary>
/// <param name="Entries">Each vector's message address, data and vector control, in table order.</param>
/// <param name="Pending">The pending bit array, one bit per vector.</param>
public sealed record MsixState(IReadOnlyList<MsixEntryState> Entries, IReadOnlyList<ulong> Pending)
{
    /// <summary>Encodes the record.</summary>
    public byte[] Encode()
    {
        var w = new SnapshotStateWriter();
        w.WriteUInt32((uint)Entries.Count);
        foreach (MsixEntryState e in Entries)
        {
            w.WriteUInt64(e.Address);
            w.WriteUInt32(e.Data);
            w.WriteUInt32(e.VectorControl);
        }
        w.WriteUInt32((uint)Pending.Count);
        foreach (ulong word in Pending)
            w.WriteUInt64(word);
        return w.ToArray();
    }

    /// <summary>Decodes a record: at most <see cref="MsixCapability.MaxVectors"/> vectors and the pending words for them.</summary>
    /// <exception cref="SnapshotException">Truncated or inconsistent.</exception>
    public static MsixState Decode(ReadOnlyMemory<byte> data)
    {
        var r = new SnapshotStateReader(data, "an MSI-X table's state");
        int count = r.ReadCount(MsixCapability.MaxVectors, "vectors");
        var entries = new MsixEntryState[count];
        for (int i = 0; i < count; i++)
            entries[i] = new MsixEntryState(r.ReadUInt64(), r.ReadUInt32(), r.ReadUInt32());
        int words = r.ReadCount((MsixCapability.MaxVectors + 63) / 64, "pending words");
        if (words != (count + 63) / 64)
            throw r.Corrupt($"{words} pending words for {count} vectors");
        var pending = new ulong[words];
        for (int i = 0; i < words; i++)
            pending[i] = r.ReadUInt64();
        r.RequireEnd();
        return new MsixState(entries, pending);
    }
}
