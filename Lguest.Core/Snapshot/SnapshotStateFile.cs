namespace Lguest.Snapshot;

/// <summary>
/// The state file's encoding: magic, a section count, then each section's name and bytes. Parsing checks
/// every name and length against <see cref="SnapshotFormat"/>'s limits and refuses a name given twice.
/// </summary>
public static class SnapshotStateFile
{
    /// <summary>Encodes <paramref name="sections"/> in order.</summary>
    /// <exception cref="ArgumentException">A name is invalid or repeated, a section too large, or too many sections.</exception>
    public static byte[] Encode(IReadOnlyList<SnapshotSection> sections)
    {
        ArgumentNullException.ThrowIfNull(sections);
        if (sections.Count > SnapshotFormat.MaxSections)
            throw new ArgumentException($"{sections.Count} sections, more than {SnapshotFormat.MaxSections}", nameof(sections));
        var names = new HashSet<string>(StringComparer.Ordinal);
        var writer = new SnapshotStateWriter();
        writer.WriteRaw(SnapshotFormat.StateMagic);
        writer.WriteUInt32((uint)sections.Count);
        foreach (SnapshotSection section in sections)
        {
            if (!SnapshotFormat.IsValidSectionName(section.Name) || !names.Add(section.Name))
                throw new ArgumentException($"section name '{section.Name}' is invalid or repeated", nameof(sections));
            if (section.Data.Length > SnapshotFormat.MaxSectionSize)
                throw new ArgumentException($"section '{section.Name}' is {section.Data.Length} bytes, more than {SnapshotFormat.MaxSectionSize}", nameof(sections));
            writer.WriteName(section.Name);
            writer.WriteBytes(section.Data.Span);
        }
        return writer.ToArray();
    }

    /// <summary>Parses a state file's bytes into its sections, in order.</summary>
    /// <exception cref="SnapshotException">Not a state file, truncated, or a section misnamed, repeated or too large.</exception>
    public static IReadOnlyList<SnapshotSection> Parse(ReadOnlyMemory<byte> bytes)
    {
        ReadOnlySpan<byte> magic = SnapshotFormat.StateMagic;
        if (bytes.Length < magic.Length || !bytes.Span[..magic.Length].SequenceEqual(magic))
            throw new SnapshotException(SnapshotRefusal.Corrupt, "the state file is not a lguest snapshot's (wrong magic)");
        var reader = new SnapshotStateReader(bytes[magic.Length..], "the state file");
        int count = reader.ReadCount(SnapshotFormat.MaxSections, "sections");
        var sections = new List<SnapshotSection>(Math.Min(count, 64));
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadName();
            if (!SnapshotFormat.IsValidSectionName(name))
                throw reader.Corrupt($"section {i} has an invalid name");
            if (!names.Add(name))
                throw reader.Corrupt($"section '{name}' appears twice");
            sections.Add(new SnapshotSection(name, reader.ReadBytes(SnapshotFormat.MaxSectionSize)));
        }
        reader.RequireEnd();
        return sections;
    }
}
