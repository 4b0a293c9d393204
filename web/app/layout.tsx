import type { Metadata } from "next";
import type { ReactNode } from "react";
import "@fontsource-variable/inter";
import "./globals.css";
import { IndexStatus } from "../components/IndexStatus.tsx";
import { Nav } from "../components/Nav.tsx";
import { Providers } from "./providers.tsx";

export const metadata: Metadata = {
  title: "Edgepay dashboard",
  description: "Buy per-inference credits, run paid ONNX inference on edge devices, collect as a provider or model owner.",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <Providers>
          <Nav />
          <main>
            <IndexStatus />
            {children}
          </main>
        </Providers>
      </body>
    </html>
  );
}
