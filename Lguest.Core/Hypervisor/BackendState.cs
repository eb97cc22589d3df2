using System.Diagnostics.CodeAnalysis;

namespace Lguest.Hypervisor;

/// <summary>
/// What a hypervisor backend captured of a guest (one vCPU's registers, or the VM's interrupt controllers and
/// clocks): named sections of bytes whose meaning only that backend knows. Everything above the seam stores it
/// and hands it back unchanged (in a snapshot); nothing there sees a kernel structure. The backend checks every
/// section again when it is restored: a snapshot is a file, and a file can be damaged or forged.
/// </summary>
public sealed class BackendState
{
    /// <summary>The longest section name accepted, in characters.</summary>
    public const int MaxNameLength = 64;

    private readonly BackendStateSection[] _sections;

    /// <summary>Creates the state of <paramref name="backend"/> from its sections.</summary>
    /// <exception cref="ArgumentException">A name is empty, too long, not of letters, digits, '-' and '_', or repeated.</exception>
    public BackendState(string backend, IEnumerable<BackendStateSection> sections)
    {
        ArgumentException.ThrowIfNullOrEmpty(backend);
        ArgumentNullException.ThrowIfNull(sections);
        Backend = backend;
        _sections = [.. sections];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (BackendStateSection section in _sections)
        {
            ArgumentNullException.ThrowIfNull(section, nameof(sections));
            if (!IsValidName(section.Name))
                throw new ArgumentException($"state section name '{section.Name}' is empty, longer than {MaxNameLength} or not of [A-Za-z0-9_-]", nameof(sections));
            if (!seen.Add(section.Name))
                throw new ArgumentException($"state section '{section.Name}' appears twice", nameof(sections));
        }
    }

    /// <summary>The backend that captured the state ("kvm"), which alone can restore it.</summary>
    public string Backend { get; }

    /// <summary>The sections, in the order the backend wrote them.</summary>
    public IReadOnlyList<BackendStateSection> Sections => _sections;

    /// <summary>The section named <paramref name="name"/>, if present.</summary>
    public bool TryGetSection(string name, [NotNullWhen(true)] out BackendStateSection? section)
    {
        foreach (BackendStateSection s in _sections)
        {
            if (s.Name == name)
            {
                section = s;
                return true;
            }
        }
        section = null;
        return false;
    }

    /// <summary>Whether <paramref name="name"/> is a valid section name.</summary>
    public static bool IsValidName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength)
            return false;
        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                return false;
        }
        return true;
    }
}
