using Lguest.Hypervisor;

namespace Lguest.Snapshot;

/// <summary>
/// A <see cref="BackendState"/> (a vCPU's or the VM's) as a state file section: the backend's name, then each
/// section's name and bytes. Reading checks names and sizes; what the bytes mean is the backend's to check.
/// </summary>
public static class BackendStateRecord
{
    /// <summary>The most sections one backend state may have (KVM's vCPU has 12).</summary>
    public const int MaxSections = 64;

    /// <summary>The largest section of one (an XSAVE image is at most 64 KiB).</summary>
    public const int MaxSectionSize = 1 << 20;

    /// <summary>Encodes <paramref name="state"/>.</summary>
    public static byte[] Encode(BackendState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var writer = new SnapshotStateWriter();
        writer.WriteName(state.Backend);
        writer.WriteUInt32((uint)state.Sections.Count);
        foreach (BackendStateSection section in state.Sections)
        {
            writer.WriteName(section.Name);
            writer.WriteBytes(section.Data.Span);
        }
        return writer.ToArray();
    }

    /// <summary>Decodes a section written by <see cref="Encode"/>; <paramref name="what"/> names it in errors.</summary>
    /// <exception cref="SnapshotException">Truncated, or a name or size out of bounds.</exception>
    public static BackendState Decode(ReadOnlyMemory<byte> data, string what)
    {
        var reader = new SnapshotStateReader(data, what);
        string backend = reader.ReadName();
        if (backend.Length == 0)
            throw reader.Corrupt("no backend name");
        int count = reader.ReadCount(MaxSections, "backend sections");
        var sections = new List<BackendStateSection>(count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadName();
            if (!BackendState.IsValidName(name) || !names.Add(name))
                throw reader.Corrupt($"backend section {i} is misnamed or repeated");
            sections.Add(new BackendStateSection(name, reader.ReadBytes(MaxSectionSize)));
        }
        reader.RequireEnd();
        return new BackendState(backend, sections);
    }
}
