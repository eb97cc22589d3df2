namespace Lguest.Devices;

/// <summary>
/// One name inside a directory, as a FUSE request carries it: the bytes of a single path component followed
/// by the NUL that ends it, which is how the host calls take it. The only way to make one is
/// <see cref="TryParse"/>, which refuses anything that is not a single component (empty, longer than NAME_MAX,
/// with a '/', or "." or ".."), so every file-system call that takes a <see cref="FileName"/> names an entry of
/// the directory it is given and nothing else. Resolution is still left to the kernel (openat2 with
/// RESOLVE_BENEATH): this type is the protocol's rule, not the containment.
/// </summary>
internal readonly ref struct FileName
{
    /// <summary>NAME_MAX: the longest name a Linux file system takes, in bytes.</summary>
    public const int MaxLength = 255;

    private readonly ReadOnlySpan<byte> _terminated;

    private FileName(ReadOnlySpan<byte> terminated) => _terminated = terminated;

    /// <summary>The name's bytes, without the NUL.</summary>
    public ReadOnlySpan<byte> Bytes => _terminated[..^1];

    /// <summary>The name's bytes and the NUL after them: what a host call takes.</summary>
    public ReadOnlySpan<byte> Terminated => _terminated;

    /// <summary>
    /// Takes the NUL-terminated name at the start of <paramref name="source"/>. Returns 0 with the name and the
    /// bytes it took (NUL included), or the errno the request gets: EINVAL (no NUL, empty, a '/', "." or ".."),
    /// ENAMETOOLONG (more than <see cref="MaxLength"/> bytes).
    /// </summary>
    public static int TryParse(ReadOnlySpan<byte> source, out FileName name, out int consumed)
    {
        name = default;
        consumed = 0;
        int end = source[..Math.Min(source.Length, MaxLength + 1)].IndexOf((byte)0);
        if (end < 0)
            return source.Length > MaxLength ? Errno.ENAMETOOLONG : Errno.EINVAL;
        ReadOnlySpan<byte> bytes = source[..end];
        if (end == 0 || bytes.Contains((byte)'/') || bytes.SequenceEqual("."u8) || bytes.SequenceEqual(".."u8))
            return Errno.EINVAL;
        name = new FileName(source[..(end + 1)]);
        consumed = end + 1;
        return 0;
    }

    /// <inheritdoc />
    public override string ToString() => System.Text.Encoding.UTF8.GetString(Bytes);
}
