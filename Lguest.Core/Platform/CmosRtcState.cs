using Lguest.Snapshot;

namespace Lguest.Platform;

/// <summary>
/// A <see cref="CmosRtc"/>'s CMOS RAM and selected index, for snapshots. The time registers are not kept: the clock
/// reads the host's time, so a restored guest reads the time of the restore, as after a real power cut.
/// </summary>
/// <param name="Index">The register port 0x70 selects (7 bits).</param>
/// <param name="Ram">The 128 bytes of CMOS RAM.</param>
public sealed record CmosRtcState(byte Index, ReadOnlyMemory<byte> Ram)
{
    /// <summary>Encodes the record.</summary>
    public byte[] Encode()
    {
        var w = new SnapshotStateWriter();
        w.WriteByte(Index);
        w.WriteBytes(Ram.Span);
        return w.ToArray();
    }

    /// <summary>Decodes a record: an index below 128 and exactly 128 bytes of RAM.</summary>
    /// <exception cref="SnapshotException">Truncated or out of range.</exception>
    public static CmosRtcState Decode(ReadOnlyMemory<byte> data)
    {
        var r = new SnapshotStateReader(data, "the RTC's state");
        var state = new CmosRtcState(r.ReadByte(), r.ReadBytes(CmosRtc.RamSize));
        r.RequireEnd();
        if (state.Index >= CmosRtc.RamSize || state.Ram.Length != CmosRtc.RamSize)
            throw r.Corrupt($"index {state.Index} or {state.Ram.Length} bytes of CMOS RAM (a CMOS has {CmosRtc.RamSize})");
        return state;
    }
}
