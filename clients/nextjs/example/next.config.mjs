// The app is its own root, although clients/nextjs (its parent) has a lockfile too.
/** @type {import('next').NextConfig} */
const nextConfig = {
  outputFileTracingRoot: import.meta.dirname,
  turbopack: { root: import.meta.dirname },
}

export default nextConfig
