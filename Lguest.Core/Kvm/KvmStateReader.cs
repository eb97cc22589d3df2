using System.Runtime.InteropServices;
using Lguest.Hypervisor;
using Lguest.Snapshot;

namespace Lguest.Kvm;

/// <summary>
/// Reads the sections of a <see cref="BackendState"/> back into kernel structs, checking each one's size
/// exactly: the state came from a file, so a section of the wrong length, a missing one or one this build does
/// not know is refused before anything reaches KVM.
/// </summary>
internal sealed class KvmStateReader
{
    private readonly BackendState _state;
    private readonly string _what;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    /// <summary>Reads <paramref name="state"/>, which must come from <paramref name="backend"/>; <paramref name="what"/> names it in errors.</summary>
    public KvmStateReader(BackendState state, string backend, string what)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Backend != backend)
            throw new SnapshotException(SnapshotRefusal.Incompatible, $"{what}: the state was captured by the '{state.Backend}' backend, not '{backend}'");
        _state = state;
        _what = what;
    }

    /// <summary>Whether the optional section <paramref name="name"/> is present.</summary>
    public bool Optional(string name) => _state.TryGetSection(name, out _);

    /// <summary>The section as one <typeparamref name="T"/>, which it must be exactly.</summary>
    public unsafe T Struct<T>(string name) where T : unmanaged
    {
        ReadOnlySpan<byte> data = Required(name);
        if (data.Length != sizeof(T))
            throw Corrupt($"section '{name}' is {data.Length} bytes, not {sizeof(T)}");
        return MemoryMarshal.Read<T>(data);
    }

    /// <summary>The section as an array of at most <paramref name="max"/> <typeparamref name="T"/>.</summary>
    public unsafe T[] Array<T>(string name, int max) where T : unmanaged
    {
        ReadOnlySpan<byte> data = Required(name);
        if (data.Length % sizeof(T) != 0 || data.Length / sizeof(T) > max)
            throw Corrupt($"section '{name}' is {data.Length} bytes, not a whole number of at most {max} entries of {sizeof(T)}");
        return MemoryMarshal.Cast<byte, T>(data).ToArray();
    }

    /// <summary>The section's bytes, between <paramref name="min"/> and <paramref name="max"/> of them.</summary>
    public byte[] Bytes(string name, int min, int max)
    {
        ReadOnlySpan<byte> data = Required(name);
        if (data.Length < min || data.Length > max)
            throw Corrupt($"section '{name}' is {data.Length} bytes, not {min} to {max}");
        return data.ToArray();
    }

    /// <summary>Refuses a state with a section nothing read: one this build does not know.</summary>
    public void RequireAllRead()
    {
        foreach (BackendStateSection section in _state.Sections)
        {
            if (!_read.Contains(section.Name))
                throw Corrupt($"unknown section '{section.Name}'");
        }
    }

    private ReadOnlySpan<byte> Required(string name)
    {
        if (!_state.TryGetSection(name, out BackendStateSection? section))
            throw Corrupt($"no '{name}' section");
        _read.Add(name);
        return section.Data.Span;
    }

    private SnapshotException Corrupt(string what) => new(SnapshotRefusal.Corrupt, $"{_what}: {what}");
}
